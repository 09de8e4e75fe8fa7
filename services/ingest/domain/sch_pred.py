"""Pattern predicates of the rule tables decided in Python, where their shape is simple.

The match patterns of the official sets filter elements with predicates such as
``[ram:CategoryCode='S']``, ``[ram:ChargeIndicator/udt:Indicator="false"]``,
``[normalize-space(fn:upper-case(cac:TaxScheme/cbc:ID))='VAT']`` or ``[@schemeID]``.
Each is evaluated for every candidate element, and an lxml XPath call costs more than the
test itself; :func:`predicate` turns a conjunction of these shapes into a Python function
with the XPath value:

* ``path = 'v'`` / ``path != 'v'``: some node of ``path`` has (has not) the string value ``v``
  (XPath general comparison);
* ``normalize-space(path) = 'v'``, ``normalize-space(fn:upper-case(path)) = 'v'``,
  ``fn:upper-case(path) = 'v'``: the first node's value, normalized (upper-cased);
* ``fn:any-true(path)``/``fn:any-false(path)``: some node is ``true``/``1`` (``false``/``0``)
  once normalized, as xs:boolean casts it;
* ``path`` and ``not(path)``: existence.

``path`` is one or more child steps (``p:Name``), optionally ending with an attribute
(``@name``). Anything else returns ``None`` (the caller keeps the XPath).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

Path = tuple[tuple[str, ...], str | None]
_STEP = r"[\w.-]+:[\w.-]+"
_PATH = rf"(?:{_STEP}(?:/{_STEP})*(?:/@[\w.-]+)?|@[\w.-]+)"
_LITERAL = r"(?:'([^']*)'|\"([^\"]*)\")"
_COMPARE = re.compile(rf"^({_PATH})\s*(!?=)\s*{_LITERAL}$")
_NORMALIZED = re.compile(
    rf"^(?:normalize-space\((?P<n>{_PATH})\)|normalize-space\(fn:upper-case\((?P<nu>{_PATH})\)\)"
    rf"|fn:upper-case\((?P<u>{_PATH})\)"
    rf"|normalize-space\(translate\((?P<t>{_PATH}),\s*'vat',\s*'VAT'\)\))\s*=\s*{_LITERAL}$")
_ANY = re.compile(rf"^fn:any-(true|false)\(({_PATH})\)$")
_EXISTS = re.compile(rf"^({_PATH})$")
_NOT_EXISTS = re.compile(rf"^not\s*\(({_PATH})\)$")


def _path(text: str, ns: dict[str, str]) -> Path | None:
    steps, attribute = [], None
    for step in text.split("/"):
        if step.startswith("@"):
            attribute = step[1:]
            continue
        prefix, _, local = step.partition(":")
        if prefix not in ns:
            return None
        steps.append(f"{{{ns[prefix]}}}{local}")
    return tuple(steps), attribute


def _values(element: etree._Element, path: Path) -> list[str]:
    nodes = [element]
    steps, attribute = path
    for tag in steps:
        nodes = [c for n in nodes for c in n if c.tag == tag]
    if attribute is not None:
        return [n.attrib[attribute] for n in nodes if attribute in n.attrib]
    return ["".join(n.itertext()) for n in nodes]


# Values already read in one document, by (path number, element): the category rules ask
# the same ``ram:CategoryCode`` of one element for each code (four in five look-ups repeat).
Memo = dict[tuple[int, etree._Element], list[str]]
_NUMBERS: dict[Path, int] = {}


def _number(path: Path) -> int:
    return _NUMBERS.setdefault(path, len(_NUMBERS))


def _read(element: etree._Element, path: Path, number: int, memo: Memo | None) -> list[str]:
    if memo is None:
        return _values(element, path)
    key = (number, element)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _values(element, path)
    return found


def _exists(element: etree._Element, path: Path) -> bool:
    return bool(_values(element, path)) if path[1] is not None else bool(
        _descend(element, path[0]))


def _descend(element: etree._Element, steps: tuple[str, ...]) -> list[etree._Element]:
    nodes = [element]
    for tag in steps:
        nodes = [c for n in nodes for c in n if c.tag == tag]
    return nodes


# A check reads an element (and the document's memo, None outside a document).
Check = Callable[[etree._Element, "Memo | None"], bool]


def _compare(path: Path, value: str, equal: bool) -> Check:
    number = _number(path)

    def check(e: etree._Element, memo: Memo | None) -> bool:
        found = _read(e, path, number, memo)
        return value in found if equal else any(x != value for x in found)
    return check


def _first(path: Path, value: str, upper: bool, normalize: bool) -> Check:
    number = _number(path)

    def check(e: etree._Element, memo: Memo | None) -> bool:
        found = _read(e, path, number, memo)
        text = found[0] if found else ""
        text = text.upper() if upper else text
        return (" ".join(text.split()) if normalize else text) == value
    return check


def _any(path: Path, accepted: tuple[str, str]) -> Check:
    number = _number(path)

    def check(e: etree._Element, memo: Memo | None) -> bool:
        return any(" ".join(x.split()) in accepted for x in _read(e, path, number, memo))
    return check


def _existence(path: Path, present: bool) -> Check:
    def check(e: etree._Element, memo: Memo | None) -> bool:
        return _exists(e, path) == present
    return check


def _one(conjunct: str, ns: dict[str, str]) -> Check | None:
    if m := _COMPARE.match(conjunct):
        path = _path(m.group(1), ns)
        value = m.group(3) if m.group(3) is not None else m.group(4)
        return None if path is None else _compare(path, value, m.group(2) == "=")
    if m := _NORMALIZED.match(conjunct):
        path = _path(m.group("n") or m.group("nu") or m.group("u") or m.group("t"), ns)
        value = m.group(5) if m.group(5) is not None else m.group(6)
        if path is None or (m.group("t") and value != "VAT"):
            return None  # translate(x, 'vat', 'VAT') is upper-case(x) only against 'VAT'
        return _first(path, value, m.group("n") is None, m.group("u") is None)
    if m := _ANY.match(conjunct):
        path = _path(m.group(2), ns)
        accepted = ("true", "1") if m.group(1) == "true" else ("false", "0")
        return None if path is None else _any(path, accepted)
    if (m := _EXISTS.match(conjunct)) or (m := _NOT_EXISTS.match(conjunct)):
        path = _path(m.group(1), ns)
        return None if path is None else _existence(path, not conjunct.startswith("not"))
    return None


def split(path: str, sep: str = "/") -> list[str] | None:
    """``path`` cut at each top-level ``sep`` (outside brackets, parentheses, strings)."""
    steps, depth, quote, current = [], 0, "", ""
    i = 0
    while i < len(path):
        char = path[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        else:
            depth += char in "[("
            depth -= char in "])"
        if not quote and depth == 0 and path.startswith(sep, i):
            steps.append(current)
            current = ""
            i += len(sep)
            continue
        current += char
        i += 1
    steps.append(current)
    return None if any(not step.strip() for step in steps) else steps


def conjuncts(predicates: str) -> list[str]:
    """The conjuncts of ``a and b][c`` (one or more predicates of a step)."""
    out: list[str] = []
    for part in predicates.split("]["):
        if part.count("[") != part.count("]") or part.count("(") != part.count(")"):
            return [predicates]  # nested brackets: kept whole (the XPath decides)
        out += [c.strip() for c in (split(part, " and ") or [part])]
    return out


class Predicate:
    """A conjunction of simple predicates, called like a compiled XPath ``(node, doc)``;
    ``doc`` (a :class:`sch_xpath.Document`) lends its memo of values read."""

    def __init__(self, checks: list[Check]) -> None:
        self._checks = checks
        self._one = checks[0] if len(checks) == 1 else None

    def __call__(self, node: etree._Element, doc: Any = None) -> bool:
        memo = doc.values if doc is not None else None
        if self._one is not None:
            return self._one(node, memo)
        return all(check(node, memo) for check in self._checks)


def predicate(conjuncts: list[str], ns: dict[str, str]) -> Predicate | None:
    """The Python form of the conjunction ``conjuncts``, or ``None``."""
    checks: list[Check] = []
    for conjunct in conjuncts:
        check = _one(conjunct.strip(), ns)
        if check is None:
            return None
        checks.append(check)
    return Predicate(checks)
