"""The outcome of an offline verification: named checks, each with one sentence, and warnings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Check(BaseModel):
    """One check: its name, whether it passed, and a sentence saying what was (not) found."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    ok: bool
    sentence: str


ANCHOR_OPTIONS = {"log_key": "--log-key (the log's public key)",
                  "tsa_ca": "--tsa-ca (the TSA's root certificate)"}


def missing_anchor_sentence(missing: tuple[str, ...]) -> str:
    """One sentence naming the trust anchors the verifier did not give."""
    names = " and ".join(ANCHOR_OPTIONS[m] for m in missing)
    verb = "were" if len(missing) > 1 else "was"
    return (f"the bundle is only self-consistent: {names} {verb} not given, so its origin is "
            "not proven; get the operator's published anchors (efacture keys export-trust)")


class VerifyReport(BaseModel):
    """Checks in the order they ran; verification stops at the first failed one.

    ``consistent`` says the bundle agrees with itself and the document; ``ok`` also needs
    both trust anchors (``missing_anchors`` lists those the verifier did not give).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    checks: tuple[Check, ...]
    warnings: tuple[str, ...] = ()
    missing_anchors: tuple[str, ...] = ()

    @property
    def consistent(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.consistent and not self.missing_anchors

    @property
    def failure(self) -> str | None:
        """The sentence of the failed check, else of the missing anchors; None when ok."""
        failed = next((c.sentence for c in self.checks if not c.ok), None)
        if failed is None and self.missing_anchors:
            return missing_anchor_sentence(self.missing_anchors)
        return failed


class CheckFailed(Exception):
    """Raised inside verification: ``name`` is the check, ``sentence`` says what failed."""

    def __init__(self, name: str, sentence: str) -> None:
        super().__init__(sentence)
        self.name = name
        self.sentence = sentence
