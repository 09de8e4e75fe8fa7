"""The ``flowInfo`` part of an upload to the PA's Flow Service (contract section 5).

Pure mapping from what ingest knows about a document (its syntax and its profile) to the
vocabulary of AFNOR XP Z12-013: ``flowSyntax`` ``Factur-X|CII|UBL`` and ``flowProfile``
``Basic|CIUS|Extended-CTC-FR``. A profile the French reform does not admit for exchange
(MINIMUM) or one we do not recognise raises :class:`PermanentError`: retrying cannot help.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal
from uuid import UUID

from shared.errors import PermanentError

FlowSyntax = Literal["Factur-X", "CII", "UBL"]
FlowProfile = Literal["Basic", "CIUS", "Extended-CTC-FR"]

PROCESSING_RULE: Final = "B2B"
FLOW_SYNTAXES: Final[tuple[FlowSyntax, ...]] = ("Factur-X", "CII", "UBL")
FLOW_PROFILES: Final[tuple[FlowProfile, ...]] = ("Basic", "CIUS", "Extended-CTC-FR")

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

# Tokens searched, in order, in the squashed kind (``facturx-pdf`` → ``FACTURXPDF``).
_SYNTAX_TOKENS: Final[tuple[tuple[str, FlowSyntax], ...]] = (
    ("FACTURX", "Factur-X"),
    ("ZUGFERD", "Factur-X"),
    ("CII", "CII"),
    ("UNCEFACT", "CII"),
    ("UBL", "UBL"),
)

# Tokens searched, in order, in the squashed profile name or guideline URN (BT-24), so that
# "BASIC WL", "XRECHNUNG 3.0", "ZUGFeRD 2.0 BASIC" and
# "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0" all map;
# the most specific token comes first ("basicwl" before "basic", "extended" before "en16931").
_PROFILE_TOKENS: Final[tuple[tuple[str, FlowProfile | None], ...]] = (
    ("MINIMUM", None),
    ("BASICWL", "Basic"),
    ("EXTENDED", "Extended-CTC-FR"),
    ("BASIC", "Basic"),
    ("XRECHNUNG", "CIUS"),
    ("PEPPOL", "CIUS"),
    ("EN16931", "CIUS"),
    ("COMFORT", "CIUS"),
    ("KOMFORT", "CIUS"),
    ("CIUS", "CIUS"),
)


def _squash(value: str) -> str:
    return re.sub(r"[\s\-_.]", "", value).upper()


def flow_syntax(kind: str) -> FlowSyntax:
    """Map a document kind (``facturx``, ``facturx-pdf``, ``cii``, ``ubl``…) to ``flowSyntax``.

    Raises :class:`PermanentError` (``code="not-transmittable"``) for anything else, e.g. a
    plain PDF that has no structured invoice to send.
    """
    key = _squash(kind)
    for token, syntax in _SYNTAX_TOKENS:
        if token in key:
            return syntax
    raise PermanentError(
        f"document kind {kind!r} cannot be transmitted to the PA", code="not-transmittable"
    )


def flow_profile(profile: str) -> FlowProfile:
    """Map an EN 16931 / Factur-X profile name or guideline URN to ``flowProfile``.

    BASIC WL and BASIC → ``Basic``; EN16931 (and its CIUS: XRECHNUNG, PEPPOL) → ``CIUS``;
    EXTENDED and EXTENDED-CTC-FR → ``Extended-CTC-FR``. MINIMUM is not admitted for exchange
    and raises :class:`PermanentError` (``code="profile-not-transmittable"``), as does an
    unknown profile (``code="unknown-profile"``).
    """
    key = _squash(profile)
    for token, mapped in _PROFILE_TOKENS:
        if token in key:
            if mapped is None:
                raise PermanentError(
                    f"profile {profile!r} is not admitted for exchange by the French reform",
                    code="profile-not-transmittable",
                )
            return mapped
    raise PermanentError(f"unknown profile {profile!r}", code="unknown-profile")


def sha256_hex(content: bytes) -> str:
    """The file's SHA-256 as the PA expects it: lowercase hex."""
    return hashlib.sha256(content).hexdigest()


def flow_info(
    *,
    tracking_id: str | UUID,
    name: str,
    syntax: str,
    profile: str,
    sha256: str,
) -> dict[str, str]:
    """Build the ``flowInfo`` JSON part of ``POST /v1/flows``.

    ``tracking_id`` is the broker's invoice id; ``name`` the file name shown at the PA;
    ``sha256`` the file's digest (any case; sent lowercase). Raises :class:`PermanentError`
    when the syntax or profile cannot be transmitted or the digest is malformed.
    """
    digest = sha256.strip().lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise PermanentError(f"malformed sha256 {sha256!r}", code="bad-sha256")
    if not name.strip():
        raise PermanentError("a flow needs a non-empty name", code="bad-flow-name")
    return {
        "trackingId": str(tracking_id),
        "name": name,
        "flowSyntax": flow_syntax(syntax),
        "flowProfile": flow_profile(profile),
        "processingRule": PROCESSING_RULE,
        "sha256": digest,
    }
