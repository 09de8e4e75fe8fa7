"""Validation of the ``flowInfo`` part the simulator receives: the ``FlowInfo`` schema of
XP Z12-013 1.3.0 (``CoreFlowInfo`` + ``FlowInfoExtension``).

Required: ``name`` (≤ 255 characters) and ``flowSyntax``. Optional: ``trackingId`` (≤ 64),
``processingRule``, ``flowProfile``, ``sha256`` (64 lowercase hex digits). Other
properties are ignored (the schema does not forbid them).
"""

from __future__ import annotations

import re
from typing import Any, Final

PROCESSING_RULES: Final = frozenset({"B2B", "B2BInt", "B2C", "B2G", "B2GInt", "OutOfScope",
                                     "B2GOutOfScope", "ArchiveOnly", "NotApplicable",
                                     "Undefined"})
FLOW_SYNTAXES: Final = frozenset({"CII", "UBL", "Factur-X", "CDAR", "FRR"})
FLOW_PROFILES: Final = frozenset({"Basic", "CIUS", "Extended-CTC-FR", "Undefined"})
_SHA256: Final = re.compile(r"[a-f0-9]{64}")


class FlowInfoError(ValueError):
    """The flowInfo part breaks the schema (the simulator answers 422)."""


def _string(value: dict[str, Any], name: str, *, required: bool, max_length: int | None = None,
            allowed: frozenset[str] | None = None) -> str | None:
    field = value.get(name)
    if field is None and not required:
        return None
    if not isinstance(field, str):
        raise FlowInfoError(f"flowInfo.{name} must be a string")
    if max_length is not None and len(field) > max_length:
        raise FlowInfoError(f"flowInfo.{name} is longer than {max_length} characters")
    if allowed is not None and field not in allowed:
        raise FlowInfoError(f"flowInfo.{name} must be one of {sorted(allowed)}")
    return field


def validate_flow_info(value: Any) -> dict[str, str | None]:
    """The flowInfo fields (``None`` when absent); raises :class:`FlowInfoError`."""
    if not isinstance(value, dict):
        raise FlowInfoError("flowInfo must be a JSON object")
    info = {
        "name": _string(value, "name", required=True, max_length=255),
        "flowSyntax": _string(value, "flowSyntax", required=True, allowed=FLOW_SYNTAXES),
        "trackingId": _string(value, "trackingId", required=False, max_length=64),
        "processingRule": _string(value, "processingRule", required=False,
                                  allowed=PROCESSING_RULES),
        "flowProfile": _string(value, "flowProfile", required=False, allowed=FLOW_PROFILES),
        "sha256": _string(value, "sha256", required=False),
    }
    if info["sha256"] is not None and not _SHA256.fullmatch(info["sha256"]):
        raise FlowInfoError("flowInfo.sha256 must be 64 lowercase hexadecimal digits")
    return info
