"""XP Z12-012 French rules (BR-FR) for French sellers: placeholder filled below."""

from __future__ import annotations

from lxml import etree

from services.ingest.domain.reasons import Reason
from services.ingest.domain.syntax import Detected


def br_fr_reasons(root: etree._Element, detected: Detected) -> list[Reason]:
    """Every BR-FR finding on the document (all of them are errors; the caller relaxes)."""
    return []
