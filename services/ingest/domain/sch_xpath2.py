"""The XPath 2.0 tier: official assertions lxml cannot run, evaluated with elementpath.

Some official tests are XPath 2.0 only (``for … return``, ``some/every … satisfies``,
``if … then … else``, decimal arithmetic): :mod:`sch_build` keeps their official text and
:mod:`sch_engine` hands them here, after its matching has chosen the rule judging a node (so
the XSLT semantics — one rule per node and mode, by priority — stay the engine's).

* One parser per namespace map, with the BR-FR ``custom:`` functions registered as external
  functions (the implementations of :mod:`sch_functions`, given lxml values); each expression
  is parsed once per process (:func:`compiled`).
* elementpath needs its own node tree over the lxml document: :func:`tree_of` builds it once
  per document, and only when some XPath 2.0 assertion has a node to judge that its XPath
  1.0 guards could not clear (0.4–1 ms for a corpus invoice: the tier stays out of the
  other documents).
* The default collation is the Unicode codepoint one (Saxon's), never the process locale.
* No schema is bound, as the official run is not schema-aware: node values are
  ``xs:untypedAtomic`` (arithmetic in ``xs:double``, compared with a string as a string).

Errors (``ElementPathError``) propagate: the engine reports the assertion as failed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any

from elementpath import XPath2Parser, XPathContext, XPathNode
from elementpath.collations import UNICODE_CODEPOINT_COLLATION
from elementpath.tree_builders import get_node_tree
from lxml import etree

from services.ingest.domain.sch_functions import CUSTOM, FN, FUNCTIONS, UBL_FUNCTIONS

Token = Any  # an elementpath root token (``XPathToken``): evaluate(context) → value


def _lxml(value: Any) -> Any:
    """An elementpath value as lxml hands it to an extension function."""
    if isinstance(value, list):
        return [_lxml(v) for v in value]
    if isinstance(value, XPathNode):
        inner = value.value
        return inner if isinstance(inner, etree._Element) else value.string_value
    return value if isinstance(value, bool) else str(value)


def _external(function: Callable[..., Any], arity: int) -> Callable[..., Any]:
    # elementpath reads the arity from the signature: one wrapper per arity.
    if arity == 1:
        def one(a: Any) -> Any:
            return function(None, _lxml(a))
        return one

    def two(a: Any, b: Any) -> Any:
        return function(None, _lxml(a), _lxml(b))
    return two


@cache
def _parser(items: tuple[tuple[str, str], ...], ubl: bool) -> XPath2Parser:
    ns = {k: v for k, v in items if v != FN}
    # The codepoint collation, as Saxon's default; elementpath would otherwise derive one
    # from the process locale and switch LC_COLLATE (process-wide) around each comparison.
    parser = XPath2Parser(namespaces=ns, default_collation=UNICODE_CODEPOINT_COLLATION)
    prefix = next((k for k, v in ns.items() if v == CUSTOM), None)
    if prefix is not None:
        for (uri, name), function in (UBL_FUNCTIONS if ubl else FUNCTIONS).items():
            if uri == CUSTOM:
                arity = function.__code__.co_argcount - 1
                parser.external_function(_external(function, arity), name=name, prefix=prefix,
                                         sequence_types=("item()*",) * arity + ("item()*",))
    return parser


def _nested(token: Token) -> Token:
    """``for $a in A, $b in B return R`` as ``for $a in A return for $b in B return R`` (and
    so for ``some``/``every``): the same value by the XPath 2.0 definition, but elementpath
    5.1.4 evaluates the clauses of one expression on a shared context whose item a path
    clause moves, so ``B`` would be read from ``A``'s nodes rather than from the focus."""
    for child in token:
        _nested(child)
    if token.symbol in ("for", "some", "every") and len(token) > 3:
        inner = type(token)(token.parser)
        inner[:] = list(token)[2:]
        _nested(inner)
        token[:] = [token[0], token[1], inner]
    return token


@cache
def compiled(expr: str, items: tuple[tuple[str, str], ...], ubl: bool) -> Token:
    """``expr`` parsed for the namespace map ``items`` (``current()`` read as ``$current``)."""
    return _nested(_parser(items, ubl).parse(expr.replace("current()", "$current")))


def probe(expr: str, ns: dict[str, str], ubl: bool) -> str | None:
    """Why elementpath cannot parse ``expr`` (``None`` when it can): used by the build."""
    try:
        compiled(expr, tuple(sorted(ns.items())), ubl)
    except Exception as exc:
        return f"elementpath: {type(exc).__name__}"
    return None


_LAST = threading.local()  # .entry: (key, node tree) of this thread's last document


def tree_of(key: object, root: etree._Element) -> Any:
    """elementpath's node tree of ``root``'s document, built once per ``key`` (the
    engine's per-document index: the sets judging one document share it). Kept per
    thread; like the lxml tier, evaluation assumes one analysing thread per process (the
    ingest workers are single-threaded processes)."""
    entry = getattr(_LAST, "entry", None)
    if entry is None or entry[0] is not key:
        entry = (key, get_node_tree(root.getroottree()))
        _LAST.entry = entry
    return entry[1]


def node_of(tree: Any, element: etree._Element) -> Any:
    """The node of ``tree`` wrapping ``element`` (for a variable such as ``$current``)."""
    return tree.elements[element]


def evaluate(token: Token, tree: Any, node: etree._Element,
             variables: dict[str, Any]) -> Any:
    """The value of ``token`` with ``node`` as context item and the given variables."""
    return token.evaluate(XPathContext(tree, item=node, variables=variables))


def holds(token: Token, tree: Any, node: etree._Element, variables: dict[str, Any]) -> bool:
    """The effective boolean value of ``token`` on ``node``."""
    value = token.evaluate(XPathContext(tree, item=node, variables=variables))
    return bool(token.boolean_value(value))


def text(value: Any) -> str:
    """``xsl:value-of`` of a value: the string values of its items, space separated."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, XPathNode):
            out.append(item.string_value)
        elif isinstance(item, bool):
            out.append("true" if item else "false")
        elif item is not None:
            out.append(str(item))
    return " ".join(out)
