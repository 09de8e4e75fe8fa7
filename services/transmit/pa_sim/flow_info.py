"""Validation of the ``flowInfo`` part the simulator receives (contract section 5)."""

from __future__ import annotations

import re
from typing import Any, Final

_REQUIRED: Final = ("trackingId", "name", "flowSyntax", "flowProfile", "processingRule", "sha256")
_ALLOWED: Final[dict[str, frozenset[str]]] = {
    "flowSyntax": frozenset({"Factur-X", "CII", "UBL"}),
    "flowProfile": frozenset({"Basic", "CIUS", "Extended-CTC-FR"}),
    "processingRule": frozenset({"B2B"}),
}
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


class FlowInfoError(ValueError):
    """The flowInfo part breaks the contract (the simulator answers 422)."""


def validate_flow_info(value: Any) -> dict[str, str]:
    """The flowInfo fields as strings; raises :class:`FlowInfoError` naming the first fault."""
    if not isinstance(value, dict):
        raise FlowInfoError("flowInfo must be a JSON object")
    info: dict[str, str] = {}
    for name in _REQUIRED:
        field = value.get(name)
        if not isinstance(field, str) or not field.strip():
            raise FlowInfoError(f"flowInfo.{name} is required (a non-empty string)")
        allowed = _ALLOWED.get(name)
        if allowed is not None and field not in allowed:
            raise FlowInfoError(f"flowInfo.{name} must be one of {sorted(allowed)}")
        info[name] = field
    if not _SHA256.fullmatch(info["sha256"]):
        raise FlowInfoError("flowInfo.sha256 must be 64 lowercase hexadecimal digits")
    return info
