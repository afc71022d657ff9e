"""The PayTrace v1 sandbox: an ASGI app speaking the v1 JSON API, state in one SQLite file.

`engine.PayTraceSandbox` holds the behaviour (usable without HTTP), `app.create_app` wraps it in
Starlette, `server` runs it with uvicorn. The wire contract is docs/paytrace-wire.md.
"""
