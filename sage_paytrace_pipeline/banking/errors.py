"""The one error a bank statement file can raise: where it is wrong and what to do about it."""

from __future__ import annotations

from pathlib import Path

from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text

_MAX_PROBLEM = 300  # library messages can quote whole files; one line is enough to act on


class StatementError(ValueError):
    """``file.bai:12: problem. Fix: ...``; the whole file is refused, nothing partial is returned."""

    def __init__(self, path: str | Path, line: int, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.line = line
        # Problems quote file content, which comes from outside: never let a card number through.
        first_line = str(problem).strip().splitlines()[0] if str(problem).strip() else "unreadable content"
        self.problem = mask_card_numbers_in_text(first_line[:_MAX_PROBLEM]) or ""
        self.fix = fix
        super().__init__(f"{self.path.name}:{line}: {self.problem}. Fix: {fix}")

    def __reduce__(self):  # picklable across processes (Dagster runs steps in subprocesses)
        return (StatementError, (self.path, self.line, self.problem, self.fix))
