"""The console's web application (Starlette, Jinja2 with autoescape, no script but one small file).

Every page needs a user; every POST needs the session's CSRF token and a same-site origin; every
action is authorized by role in actions.py, server-side. Text from exceptions is shown through the
`shown` filter (controls removed, card numbers masked to their last four, secrets filtered) and
escaped by Jinja: hostile text renders inert.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import pandas as pd
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sage_paytrace_pipeline.config import ConsoleSettings
from sage_paytrace_pipeline.console import dashboard as figures
from sage_paytrace_pipeline.console import rows, security
from sage_paytrace_pipeline.console.actions import Actions, Actor, Item, Refused
from sage_paytrace_pipeline.console.candidates import Candidate, ranked_customers
from sage_paytrace_pipeline.console.clearing import Clearing, card_clearing
from sage_paytrace_pipeline.console.passwords import verify_password
from sage_paytrace_pipeline.console.queue import QueueFilter, queue
from sage_paytrace_pipeline.console.rerun import DagsterUnreachable, launch, rerun_request
from sage_paytrace_pipeline.console.roles import allowed
from sage_paytrace_pipeline.console.sources import SourceContext, actions_for, open_items, register_builtin_sources
from sage_paytrace_pipeline.console.store import ConsoleStore
from sage_paytrace_pipeline.console.throttle import LoginThrottle
from sage_paytrace_pipeline.console.warehouse import WarehouseBusy, awaiting_refunds
from sage_paytrace_pipeline.domain.free_text import storable_text
from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal
from sage_paytrace_pipeline.domain.pci import scrub_text

HERE = Path(__file__).parent
PAGE_SIZE = 200


@dataclass
class Console:
    """What the pages work with (built once by `create_app`)."""

    settings: ConsoleSettings
    store: ConsoleStore
    actions: Actions
    warehouse: Path
    today: Callable[[], date]
    card_clearing: str | None = None  # gl_accounts.card_clearing (with the card payment types' accounts in Sage)
    throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(self.settings.login_attempts, self.settings.login_window_seconds)


def shown(value: object) -> str:
    """Outside text as the console shows it: no controls, card numbers masked, secrets filtered."""
    return _shown_text(value) if isinstance(value, str) else scrub_text(storable_text(value))


@functools.lru_cache(maxsize=50_000)
def _shown_text(value: str) -> str:
    # The queue shows the same texts page after page (they change only when a run does): clean each once.
    return scrub_text(storable_text(value))


def _templates() -> Jinja2Templates:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    environment.filters["shown"] = shown
    environment.filters["money"] = lambda cents: format_decimal(cents_to_decimal(int(cents)))
    return Jinja2Templates(env=environment)


TEMPLATES = _templates()
Handler = Callable[[Request, security.User], Awaitable[Response]]


def create_app(console: Console, *, secret_key: str) -> Starlette:
    register_builtin_sources()
    if len(secret_key) < 32:
        raise ValueError(f"the console's secret key ({console.settings.secret_key_env}) must be 32 characters or more")

    def page(permission: str, handler: Handler, *, post: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            user = security.current_user(request, console.settings)
            if user is None:
                if post:
                    return PlainTextResponse("log in first", status_code=401)
                return RedirectResponse("/login", status_code=303)
            if post:
                form = await request.form()
                refusal = security.csrf_refusal(request, form.get("csrf"))
                if refusal:
                    console.store.audit(actor=user.name, action="csrf", subject=request.url.path, outcome="refused",
                                        after=refusal, address=_address(request))
                    return PlainTextResponse(f"refused: {refusal}", status_code=403)
            if not allowed(user.role, permission):
                console.store.audit(actor=user.name, action=permission, subject=request.url.path, outcome="refused",
                                    after=f"role {user.role}", address=_address(request))
                return _render(request, user, "refused.html", {"reason": f"your role ({user.role}) may not do this"},
                               status_code=403)
            return await handler(request, user)

        return endpoint

    # -------------------------------------------------------------- log-in

    async def login_form(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "login.html", {"csrf": security.csrf_token(request), "error": ""})

    async def login(request: Request) -> Response:
        form = await request.form()
        address = _address(request)
        name = str(form.get("username", "")).strip()[:64]
        refusal = security.csrf_refusal(request, form.get("csrf"))
        if refusal:
            return PlainTextResponse(f"refused: {refusal}", status_code=403)
        if console.throttle.refused(name, address):
            console.store.audit(actor=name, action="login", subject="", outcome="refused", after="too many tries",
                                address=address)
            return TEMPLATES.TemplateResponse(request, "login.html", {
                "csrf": security.csrf_token(request),
                "error": "too many failed log-ins: wait a few minutes"}, status_code=429)
        user = console.settings.users.get(name)
        password_hash = user.password_hash if user is not None else None
        if not verify_password(password_hash, str(form.get("password", ""))):
            console.throttle.failed(name, address)
            console.store.audit(actor=name, action="login", subject="", outcome="refused", after="wrong name or "
                                "password", address=address)
            return TEMPLATES.TemplateResponse(request, "login.html", {
                "csrf": security.csrf_token(request), "error": "wrong name or password"}, status_code=401)
        console.throttle.succeeded(name, address)
        security.start_session(request, name)
        console.store.audit(actor=name, action="login", subject="", outcome="done", address=address)
        return RedirectResponse("/exceptions", status_code=303)

    async def logout(request: Request, user: security.User) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def home(request: Request, user: security.User) -> Response:
        return RedirectResponse("/exceptions", status_code=303)

    # -------------------------------------------------------------- exceptions

    async def exceptions(request: Request, user: security.User) -> Response:
        params = request.query_params
        wanted = QueueFilter(kind=params.get("kind", "").strip(), severity=params.get("severity", "").strip(),
                             day=params.get("day", "").strip(), min_age_days=_int(params.get("age")),
                             show_reviewed=params.get("reviewed") == "1")
        context = SourceContext(console.warehouse)
        number = max(1, _int(params.get("page")) or 1)
        found = queue(context, console.store, wanted, console.today(), offset=(number - 1) * PAGE_SIZE,
                      limit=PAGE_SIZE)
        pages = max(1, math.ceil(found.total / PAGE_SIZE))
        if number > pages:  # past the last page (the queue shrank): show the last
            number = pages
            found = queue(context, console.store, wanted, console.today(), offset=(number - 1) * PAGE_SIZE,
                          limit=PAGE_SIZE)
        rows = [{**row, "actions": actions_for(str(row["kind"]))} for row in found.rows]
        return _render(request, user, "exceptions.html", {
            "items": rows, "total": found.total, "page": number, "pages": pages, "wanted": wanted,
            "kinds": found.kinds, "notices": context.notices, "query": _query(params)})

    async def exception_detail(request: Request, user: security.User, message: str = "",
                               error: str = "") -> Response:
        item = _item(request.path_params["key"])
        if item is None:
            return _render(request, user, "gone.html", {}, status_code=404)
        candidates: list[Candidate] = []
        if "link_payer" in actions_for(item.kind) and console.actions.sage_reader is not None:
            candidates = ranked_customers(console.actions.sage_reader(), item.problem)
        invoices = console.actions.open_invoices(item) if "apply_to_invoice" in actions_for(item.kind) else []
        decided = console.store.latest_decisions([item.key]).get(item.key)
        return _render(request, user, "exception.html", {
            "item": item, "actions": actions_for(item.kind), "candidates": candidates, "decided": decided,
            "invoices": invoices, "target": console.actions.invoice_target(item),
            "message": message, "error": error, "row": _row(item.key)}, status_code=400 if error else 200)

    async def link(request: Request, user: security.User) -> Response:
        item = _item(request.path_params["key"])
        if item is None:
            return _render(request, user, "gone.html", {}, status_code=404)
        form = await request.form()
        # a customer typed in wins over the picked suggestion
        customer = str(form.get("other_customer", "")).strip() or str(form.get("customer", ""))
        try:
            made = console.actions.link_payer(_actor(request, user), item, customer,
                                              replace=form.get("replace") == "1")
        except Refused as refused:
            return await exception_detail(request, user, error=str(refused))
        return await exception_detail(request, user, message=(
            f"linked {made.vault_id} to {made.customer} {made.name}: its payments post when the day runs again"))

    async def apply_invoice(request: Request, user: security.User) -> Response:
        item = _item(request.path_params["key"])
        if item is None:
            return _render(request, user, "gone.html", {}, status_code=404)
        form = await request.form()
        try:
            choice = console.actions.apply_to_invoice(_actor(request, user), item, str(form.get("invoice_no", "")))
        except Refused as refused:
            return await exception_detail(request, user, error=str(refused))
        return await exception_detail(request, user, message=(
            f"payment {choice.transaction_id} will be applied to invoice {choice.invoice_no} of "
            f"{choice.division}-{choice.customer_no}: its receipt posts when the day runs again"))

    async def review(request: Request, user: security.User) -> Response:
        form = await request.form()
        keys = [str(key) for key in form.getlist("key")][:1000]
        found = {item.key: item for item in map(_item_from_row, _rows(keys))}
        chosen = [found[key] for key in keys if key in found]
        if not chosen:
            return _render(request, user, "refused.html", {"reason": "choose at least one open exception"},
                           status_code=400)
        if len(chosen) > 1 and any(_row(item.key)["severity"] == "error" for item in chosen):
            return _render(request, user, "refused.html", {
                "reason": "errors are reviewed one at a time (open each): only warnings can be marked in bulk"},
                status_code=400)
        try:
            count = console.actions.mark_reviewed(_actor(request, user), chosen, str(form.get("reason", "")))
        except Refused as refused:
            return _render(request, user, "refused.html", {"reason": str(refused)}, status_code=400)
        back = str(form.get("back", "")) or "/exceptions"
        return RedirectResponse(back if back.startswith("/exceptions") else "/exceptions", status_code=303,
                                headers={"X-Reviewed": str(count)})

    def _rows(keys: list[str]) -> list[dict[str, Any]]:
        items = open_items(SourceContext(console.warehouse))
        return items[items["key"].isin(keys)].to_dict("records")

    def _row(key: str) -> dict[str, Any]:
        rows = _rows([key])
        return rows[0] if rows else {}

    def _item(key: str) -> Item | None:
        row = _row(key)
        return _item_from_row(row) if row else None

    # -------------------------------------------------------------- approvals

    async def approvals(request: Request, user: security.User, message: str = "", error: str = "") -> Response:
        try:
            waiting = awaiting_refunds(console.warehouse)
        except WarehouseBusy as busy:
            waiting, error = [], str(busy)
        return _render(request, user, "approvals.html", {
            "requests": waiting, "message": message, "error": error,
            "may_approve": allowed(user.role, "approve")}, status_code=400 if error and not message else 200)

    async def decide_refund(request: Request, user: security.User) -> Response:
        request_id = request.path_params["request_id"]
        form = await request.form()
        actor = _actor(request, user)
        try:
            if request.path_params["decision"] == "approve":
                done = console.actions.approve_refund(actor, request_id)
                message = f"{done.request_id} approved by {done.approved_by}: the next run sends it"
            else:
                done = console.actions.reject_refund(actor, request_id, str(form.get("reason", "")))
                message = f"{done.request_id} rejected: nothing is sent to PayTrace"
        except (Refused, WarehouseBusy) as refused:
            return await approvals(request, user, error=str(refused))
        return await approvals(request, user, message=message)

    # -------------------------------------------------------------- dashboard

    async def dashboard(request: Request, user: security.User) -> Response:
        context = SourceContext(console.warehouse)
        items = open_items(context)
        opened = items["business_day"].dropna().astype(str).str.slice(0, 10).value_counts()
        decided = pd.Series(console.store.decisions_by_day(), dtype="int64")
        days = figures.daily_figures(console.warehouse, opened[opened.index.str.len() == 10], decided)
        month = request.query_params.get("month", "").strip()[:7]
        shown_days = days[days.index.str.startswith(month)] if month else days.head(62)
        months = figures.monthly_figures(days)
        clearing = _clearing()
        return _render(request, user, "dashboard.html", {
            "months": figures.periods(months), "days": figures.periods(shown_days),
            "month": month, "chart": figures.bars(shown_days, "sales_cents", "receipts_cents"),
            "notices": context.notices,
            "clearing": None if clearing is None else {
                "accounts": clearing.accounts, "total": clearing.balance_cents,
                "at": clearing.balance_at([*months.index, *shown_days.index])}})

    def _clearing() -> Clearing | None:
        if console.actions.sage_reader is None:
            return None
        return card_clearing(console.actions.sage_reader(), console.card_clearing)

    async def figure_rows(request: Request, user: security.User) -> Response:
        figure = request.path_params["figure"]
        period = request.query_params.get("period", "").strip()
        if figure == "exceptions_opened":
            return RedirectResponse(f"/exceptions?day={quote(period)}", status_code=303)
        if figure == "exceptions_decided":
            return RedirectResponse("/audit", status_code=303)
        found: rows.Rows | None
        if figure == "clearing" and rows.PERIOD.match(period):
            clearing = _clearing()
            if clearing is None:
                return _render(request, user, "refused.html", {
                    "reason": "Sage is not reachable from the console (SAGE100_DATABASE is not set)"}, status_code=400)
            lines = clearing.lines_in(period)
            found = rows.Rows(f"Card clearing in Sage: GL lines of {period} (balance at the end "
                              f"{format_decimal(cents_to_decimal(clearing.balance_at([period])[period]))})",
                              list(lines.columns), lines.astype(object).to_dict("records"), len(lines),
                              int((lines["debit_cents"] - lines["credit_cents"]).sum()), "debit_cents - credit_cents")
        else:
            found = rows.figure_rows(console.warehouse, figure, period)
        if found is None:
            return _render(request, user, "refused.html", {"reason": "no such figure, or not a day (YYYY-MM-DD) or "
                                                                     "month (YYYY-MM)"}, status_code=404)
        return _render(request, user, "rows.html", {"found": found, "figure": figure, "period": period})

    async def rerun_day(request: Request, user: security.User) -> Response:
        try:
            day = date.fromisoformat(request.path_params["day"])
        except ValueError:
            return _render(request, user, "refused.html", {"reason": "not a day (YYYY-MM-DD)"}, status_code=400)
        if not console.settings.dagster_url:
            return _render(request, user, "refused.html", {
                "reason": "no Dagster to re-run on: set console.dagster_url in the config"}, status_code=400)
        try:
            run = launch(rerun_request(console.settings.dagster_url, day, requested_by=user.name))
        except DagsterUnreachable as unreachable:
            console.store.audit(actor=user.name, action="rerun_day", subject=day.isoformat(), outcome="failed",
                                after=str(unreachable), address=_address(request))
            return _render(request, user, "refused.html", {"reason": str(unreachable)}, status_code=502)
        console.store.audit(actor=user.name, action="rerun_day", subject=day.isoformat(), outcome="done",
                            after={"run_id": run.run_id, "url": run.url}, address=_address(request))
        return _render(request, user, "rerun.html", {"day": day.isoformat(), "run": run})

    # -------------------------------------------------------------- audit

    async def audit(request: Request, user: security.User) -> Response:
        number = max(1, _int(request.query_params.get("page")) or 1)
        rows = console.store.audit_rows(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        return _render(request, user, "audit.html", {"rows": rows, "page": number,
                                                     "may_export": allowed(user.role, "export")})

    async def audit_csv(request: Request, user: security.User) -> Response:
        console.store.audit(actor=user.name, action="export_audit", subject="audit.csv", outcome="done",
                            address=_address(request))
        return Response(console.store.audit_csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="console-audit.csv"'})

    def _render(request: Request, user: security.User, name: str, context: dict[str, Any],
                status_code: int = 200) -> Response:
        return TEMPLATES.TemplateResponse(request, name, {
            **context, "user": user, "csrf": security.csrf_token(request),
            "may_rerun": bool(console.settings.dagster_url) and allowed(user.role, "resolve"),
            "can": {permission: allowed(user.role, permission) for permission in ("resolve", "approve", "export")},
        }, status_code=status_code)

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", page("view", logout, post=True), methods=["POST"]),
        Route("/", page("view", home), methods=["GET"]),
        Route("/exceptions", page("view", exceptions), methods=["GET"]),
        Route("/exceptions/review", page("resolve", review, post=True), methods=["POST"]),
        Route("/exceptions/{key:str}", page("view", exception_detail), methods=["GET"]),
        Route("/exceptions/{key:str}/link", page("resolve", link, post=True), methods=["POST"]),
        Route("/exceptions/{key:str}/apply", page("resolve", apply_invoice, post=True), methods=["POST"]),
        Route("/approvals", page("view", approvals), methods=["GET"]),
        Route("/approvals/{request_id:str}/{decision:str}", page("approve", decide_refund, post=True),
              methods=["POST"]),
        Route("/dashboard", page("view", dashboard), methods=["GET"]),
        Route("/rows/{figure:str}", page("view", figure_rows), methods=["GET"]),
        Route("/days/{day:str}/rerun", page("resolve", rerun_day, post=True), methods=["POST"]),
        Route("/audit", page("view", audit), methods=["GET"]),
        Route("/audit.csv", page("export", audit_csv), methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(security.SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret_key, session_cookie="console_session",
                   max_age=console.settings.session_minutes * 60, same_site="strict",
                   https_only=console.settings.secure_cookies),
    ]
    return Starlette(routes=routes, middleware=middleware)


def _item_from_row(row: dict[str, Any]) -> Item:
    return Item(key=str(row["key"]), area=str(row["area"]), kind=str(row["kind"]),
                source_ids=str(row["source_ids"] or ""), problem=str(row["problem"] or ""))


def _actor(request: Request, user: security.User) -> Actor:
    return Actor(user.name, user.role, _address(request))


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _query(params) -> str:
    from urllib.parse import urlencode

    return urlencode({key: value for key, value in params.items() if key != "page" and value})
