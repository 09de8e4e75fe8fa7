"""Why a document was rejected or flagged: the machine-readable unit of every verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning"]


class Reason(BaseModel):
    """One finding about a submission.

    ``code`` is stable and machine-readable (``"BR-CO-15"``, ``"too-large"``, ``"schema"`` …),
    ``message`` is one English sentence for a human, ``path`` locates the finding in the
    document when known (an XPath-like string, or the business term BT-/BG-), ``severity`` is
    ``"warning"`` for a finding that does not reject (sandbox and archive-only relaxations).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    path: str | None = None
    severity: Severity = "error"

    def as_warning(self) -> Reason:
        """The same finding, downgraded to a warning."""
        return self.model_copy(update={"severity": "warning"})


def reason(code: str, message: str, path: str | None = None) -> Reason:
    """Shorthand constructor used by the rule modules."""
    return Reason(code=code, message=message, path=path)
