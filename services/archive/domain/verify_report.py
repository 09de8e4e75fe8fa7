"""The outcome of an offline verification: named checks, each with one sentence, and warnings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Check(BaseModel):
    """One check: its name, whether it passed, and a sentence saying what was (not) found."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    ok: bool
    sentence: str


class VerifyReport(BaseModel):
    """Checks in the order they ran; verification stops at the first failed one."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    checks: tuple[Check, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failure(self) -> str | None:
        """The sentence of the failed check, or None when everything passed."""
        return next((c.sentence for c in self.checks if not c.ok), None)


class CheckFailed(Exception):
    """Raised inside verification: ``name`` is the check, ``sentence`` says what failed."""

    def __init__(self, name: str, sentence: str) -> None:
        super().__init__(sentence)
        self.name = name
        self.sentence = sentence
