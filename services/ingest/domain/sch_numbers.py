"""``xs:decimal(E)`` dropped where ``E`` is a number already: the cast returns it unchanged.

The official tests cast numbers they have just computed: ``xs:decimal(100)``,
``xs:decimal(count(…))``, ``xs:decimal(round(…))``, ``xs:decimal(sum(…))``. On lxml the cast is
an extension function (:mod:`sch_functions`), a call from libxml2 into Python that costs more
than the rest of a simple test; its value on a number is that number. So ``xs:decimal(E)`` is
written ``(E)`` when ``E`` is a numeric literal or one call of a number-valued XPath 1.0
function (``count``, ``round``, ``sum``, ``floor``, ``ceiling``, ``number``,
``string-length``) spanning the whole argument. Casts of paths and variables are kept: their
value depends on how the string is read. String literals are expected already protected
(:func:`sch_xpath._protect`), so parentheses counted here are the expression's own.
"""

from __future__ import annotations

import re

_LITERAL = re.compile(r"^\s*-?(?:\d+(?:\.\d*)?|\.\d+)\s*$")
_CALL = re.compile(r"^\s*(?:count|round|sum|floor|ceiling|number|string-length)\s*\(")


def closing(text: str, start: int) -> int:
    """The index just past the parenthesis closing the one opened before ``start``; -1 when
    it is never closed."""
    depth, at = 1, start
    while at < len(text) and depth:
        depth += {"(": 1, ")": -1}.get(text[at], 0)
        at += 1
    return at if depth == 0 else -1


def _numeric(arg: str) -> bool:
    if _LITERAL.match(arg):
        return True
    call = _CALL.match(arg)
    return call is not None and closing(arg, call.end()) == len(arg.rstrip())


def decimals(text: str, prefixes: list[str]) -> str:
    """``text`` with each ``p:decimal(E)`` (``p`` a prefix of the XML Schema namespace) whose
    argument is a number written ``(E)``."""
    if not prefixes:
        return text
    names = "|".join(map(re.escape, prefixes))
    pattern = re.compile(rf"(?<![\w.:-])(?:{names}):decimal\(")
    out, at = [], 0
    for match in pattern.finditer(text):
        if match.start() < at:
            continue
        end = closing(text, match.end())
        if end < 0:
            continue
        arg = text[match.end():end - 1]
        if _numeric(arg):
            out.append(text[at:match.start()])
            out.append(f"({decimals(arg, prefixes)})")
            at = end
    out.append(text[at:])
    return "".join(out)
