"""XPath 2.0 functions and the BR-FR ``custom:`` functions, for running schematron tests on lxml.

lxml evaluates XPath 1.0; the official tests also call a few XPath 2.0 functions
(``exists``, ``matches``, ``xs:decimal`` …) and the XP Z12-012 stylesheets their own
``custom:`` functions. Both are provided here as lxml extension functions, bound per XPath
object (never registered globally). ``custom:`` functions read their code lists from the
generated :mod:`sch_rules` (extracted from the stylesheets, not retyped). Numbers are
doubles, as in XPath 1.0: the conformance tests measure where that differs from the official
engine.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from typing import Any

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
CUSTOM = "http://www.example.org/custom"
# The generated stylesheets call the XPath 2.0 functions with this prefix (``fn:exists``).
FN = "urn:efacture:xpath2"
XPATH1 = frozenset({
    "last", "position", "count", "id", "local-name", "namespace-uri", "name", "string",
    "concat", "starts-with", "contains", "substring-before", "substring-after", "substring",
    "string-length", "normalize-space", "translate", "boolean", "not", "true", "false", "lang",
    "number", "sum", "floor", "ceiling", "round", "text", "node", "comment",
    "processing-instruction", "and", "or", "current",
})
_CALL = re.compile(r"([A-Za-z][\w.-]*(?::[\w.-]+)?)\s*\(")


def _s(value: Any) -> str:
    """XPath string value of an argument (first item of a node-set)."""
    if isinstance(value, list):
        if not value:
            return ""
        value = value[0]
    if isinstance(value, etree._Element):
        return "".join(value.itertext())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_s([v]) for v in value]
    return [_s(value)]


def _decimal(_: Any, value: Any) -> float:
    text = _s(value).strip()
    try:
        return float(text) if text and "e" not in text.lower() else math.nan
    except ValueError:
        return math.nan


def _date(_: Any, value: Any) -> float:
    # Dates compare by their day number; only comparisons are needed by the tests.
    text = _s(value).strip()
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if not match:
        return math.nan
    year, month, day = map(int, match.groups())
    return float(year * 10000 + month * 100 + day)


def _matches(_: Any, value: Any, pattern: Any, flags: Any = "") -> bool:
    flag = re.IGNORECASE if "i" in _s(flags) else 0
    return re.search(_xsd_regex(_s(pattern)), _s(value), flag) is not None


def _xsd_regex(pattern: str) -> str:
    return pattern.replace("\\p{L}", "a-zA-Z\u00c0-\u024f") if "\\p{" in pattern else pattern


def _replace(_: Any, value: Any, pattern: Any, replacement: Any) -> str:
    repl = re.sub(r"\$(\d)", r"\\\1", _s(replacement))
    return re.sub(_xsd_regex(_s(pattern)), repl, _s(value))


def _tokenize(_: Any, value: Any, pattern: Any = " ") -> list[str]:
    return re.split(_xsd_regex(_s(pattern)), _s(value))


def _distinct(_: Any, value: Any) -> list[str]:
    return list(dict.fromkeys(_items(value)))


def _date_ok(text: str) -> bool:
    """BR-FR CII dates: the first 8 characters are AAAAMMJJ in 2000–2099."""
    short = text[:8]
    if not re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", short):
        return False
    year, month, day = int(short[:4]), int(short[4:6]), int(short[6:8])
    return day <= calendar.monthrange(year, month)[1]


def _ubl_date_ok(text: str) -> bool:
    """BR-FR UBL dates: exactly AAAA-MM-JJ in 2000–2099."""
    if not re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", text):
        return False
    return int(text[8:10]) <= calendar.monthrange(int(text[:4]), int(text[5:7]))[1]


def _decimal_ok(digits: int, sign: bool) -> Callable[[Any, Any], bool]:
    pattern = re.compile(("-?" if sign else "") + r"\d{1,19}(\.\d{1," + str(digits) + r"})?")

    def check(_: Any, value: Any) -> bool:
        text = _s(value)
        return bool(pattern.fullmatch(text)) and len(text.replace(".", "")) <= 19
    return check


def _percent(_: Any, value: Any) -> bool:
    text = _s(value)
    return bool(re.fullmatch(r"\d{1,4}(\.\d{1,2})?", text)) and len(text.replace(".", "")) <= 4


def _in(name: str) -> Callable[[Any, Any], bool]:
    def check(_: Any, value: Any) -> bool:
        from services.ingest.domain import sch_rules

        codes: frozenset[str] = getattr(sch_rules, name)
        return _s(value) in codes
    return check


# Compiled once (``node.xpath(…)`` compiles its expression on every call).
_PROCESS = etree.XPath(
    "*[local-name()='ExchangedDocumentContext']/*[local-name()="
    "'BusinessProcessSpecifiedDocumentContextParameter']/*[local-name()='ID']"
    " | *[local-name()='ProfileID']", regexp=False)


def _special(codes: tuple[str, ...]) -> Callable[[Any, Any], bool]:
    def check(_: Any, context: Any) -> bool:
        nodes = context if isinstance(context, list) else [context]
        for node in nodes:
            if isinstance(node, etree._Element):
                found: Any = _PROCESS(node)
                return bool(found) and " ".join(_s([found[0]]).split()) in codes
        return False
    return check


def _id_format(_: Any, value: Any) -> bool:
    text = _s(value)
    return bool(re.fullmatch(r"[A-Za-z0-9+\-_/]+", " ".join(text.split()))) and " " not in text


FUNCTIONS: dict[tuple[str | None, str], Callable[..., Any]] = {
    (FN, "exists"): lambda _, v: bool(v) if isinstance(v, list) else True,
    (FN, "empty"): lambda _, v: not v if isinstance(v, list) else False,
    (FN, "upper-case"): lambda _, v: _s(v).upper(),
    (FN, "lower-case"): lambda _, v: _s(v).lower(),
    (FN, "abs"): lambda _, v: abs(v) if isinstance(v, float) else abs(_decimal(_, v)),
    (FN, "ends-with"): lambda _, v, w: _s(v).endswith(_s(w)),
    (FN, "string-join"): lambda _, v, sep="": _s(sep).join(_items(v)),
    (FN, "matches"): _matches,
    (FN, "replace"): _replace,
    (FN, "tokenize"): _tokenize,
    (FN, "distinct-values"): _distinct,
    (FN, "any-true"): lambda _, v: any(" ".join(x.split()) in ("true", "1") for x in _items(v)),
    (FN, "any-false"): lambda _, v: any(" ".join(x.split()) in ("false", "0")
                                        for x in _items(v)),
    (XS, "decimal"): _decimal,
    (XS, "integer"): _decimal,
    (XS, "double"): _decimal,
    (XS, "date"): _date,
    (XS, "string"): lambda _, v: _s(v),
    (CUSTOM, "is-valid-id-format"): _id_format,
    (CUSTOM, "is-valid-date-format"): lambda _, v: _date_ok(_s(v)),
    (CUSTOM, "is-valid-document-type-code"): _in("FR_DOCUMENT_TYPES"),
    (CUSTOM, "is-valid-billing-mode"): _in("FR_BILLING_MODES"),
    (CUSTOM, "is-valid-eas-code"): _in("FR_EAS_CODES"),
    (CUSTOM, "is-valid-vat-category-code"): _in("FR_VAT_CATEGORIES"),
    (CUSTOM, "is-valid-vat-rate"): _in("FR_VAT_RATES"),
    (CUSTOM, "is-valid-attachment-code"): _in("FR_ATTACHMENT_CODES"),
    (CUSTOM, "is-valid-bar-treatment"): _in("FR_BAR_TREATMENTS"),
    (CUSTOM, "check-siret-siren-coherence"): lambda _, siret, siren: bool(
        re.fullmatch(r"\d{14}", _s(siret))) and _s(siret)[:9] == _s(siren),
    (CUSTOM, "is-valid-schemeid-format"): lambda _, v: bool(
        re.fullmatch(r"[A-Za-z0-9+\-_.]+", _s(v))),
    (CUSTOM, "is-valid-decimal-19-2"): _decimal_ok(2, True),
    (CUSTOM, "is-valid-decimal-19-4"): _decimal_ok(4, True),
    (CUSTOM, "is-valid-decimal-19-6"): _decimal_ok(6, True),
    (CUSTOM, "is-valid-decimal-19-6-positive"): _decimal_ok(6, False),
    (CUSTOM, "is-valid-percent-4-2-positive"): _percent,
    (CUSTOM, "isSpecialContract"): _special(("S8", "B8", "M8", "S9", "B9", "M9")),
    (CUSTOM, "isSpecialContractMV"): _special(("S8", "B8", "M8")),
    (CUSTOM, "isSpecialContractBD"): _special(("S9", "B9", "M9")),
}
UBL_FUNCTIONS = {**FUNCTIONS,
                 (CUSTOM, "is-valid-date-format"): lambda _, v: _ubl_date_ok(_s(v))}
_KNOWN = XPATH1 | {name if uri is None else f"{uri}:{name}" for uri, name in FUNCTIONS}


def unknown_function(expr: str, ns: dict[str, str]) -> str | None:
    """The first function ``expr`` calls that neither XPath 1.0 nor :data:`FUNCTIONS` has."""
    for name in _CALL.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "''", expr)):
        prefix, _, local = name.rpartition(":")
        key = f"{ns.get(prefix, prefix)}:{local}" if prefix else local
        if key not in _KNOWN:
            return name
    return None


def probe_compile(expr: str, ns: dict[str, str]) -> str | None:
    """Why ``expr`` cannot run on lxml (``None`` when it can)."""
    missing = unknown_function(expr, ns)
    if missing:
        return f"calls {missing}()"
    try:
        etree.XPath(expr, namespaces=ns, extensions=FUNCTIONS)
    except etree.XPathSyntaxError:
        return "XPath 2.0 syntax"
    except etree.XPathError as exc:
        return f"XPath error: {exc}"
    return None
