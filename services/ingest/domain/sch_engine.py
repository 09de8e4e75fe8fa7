"""Run the generated rule tables (:mod:`sch_rules`) on an lxml tree, as the XSLT would.

Semantics kept from the compiled schematron: each pattern is a mode; within a mode a node is
judged by the highest-priority rule whose pattern matches it, once; a rule's ``let``
variables are evaluated on its context node before its assertions; a failed ``assert`` (or a
true ``report``) yields one :class:`Hit` with the official message (the stylesheet's
``svrl:text`` and ``value-of`` parts) and the node's XPath as location.

Speed: patterns made of named steps are matched from an element index by walking up the
parents (no tree scan); a rule's assertions are first evaluated together; extension
functions are bound only to the expressions that call them (lxml re-registers them on every
call). Pure and total: an assertion that errors at run time is reported as failed, with the
error, rather than raised. Tables compile once per process and set, on first use.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree

from services.ingest.domain.sch_functions import FUNCTIONS, UBL_FUNCTIONS, _s

_STEP = re.compile(r"(?:^|/)@?(?:[\w.-]+:)?([\w.-]+)$")
_NAME = re.compile(r"^(?:([\w.-]+):)?([\w.-]+)$")
_POSITIONAL = re.compile(r"^\s*\d|position\(|last\(")
# (absolute, steps root-most first as (Clark name, predicate test or None))
Chain = tuple[bool, tuple[tuple[str, etree.XPath | None], ...]]
Indexed = tuple[set[str], dict[str, list[etree._Element]]]
Message = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Hit:
    """One finding of the generated rules."""

    rule: str
    flag: str
    message: str
    location: str


@dataclass(frozen=True)
class _Rule:
    chains: tuple[Chain, ...]
    selectors: tuple[tuple[str | None, etree.XPath], ...]
    lets: tuple[tuple[str, etree.XPath], ...]
    all_hold: etree.XPath
    conjunction: str  # the text of all_hold
    # All assertions in Python when each is a simple shape (None otherwise); only a False
    # answer goes on to the XPath evaluation, which builds the messages.
    fast: Callable[[etree._Element], bool] | None
    current: bool  # some expression of the rule reads current()
    names: frozenset[str]  # what a node must be called to match (empty: anything)
    asserts: tuple[tuple[str, str, bool, etree.XPath, Message], ...]


def _xpath(expr: str, ns: dict[str, str], ubl: bool, smart: bool = False) -> etree.XPath:
    # One compiled object per distinct expression: the sets repeat many (memory).
    return _compiled(expr, tuple(sorted(ns.items())), ubl, smart)


@cache
def _compiled(expr: str, items: tuple[tuple[str, str], ...], ubl: bool,
              smart: bool) -> etree.XPath:
    ns = dict(items)
    expr = expr.replace("current()", "$current")
    needs = any(f"{p}:" in expr for p in ("fn", "xs", "custom"))
    return etree.XPath(expr, namespaces=ns, smart_strings=smart,
                       extensions=(UBL_FUNCTIONS if ubl else FUNCTIONS) if needs else None)


_ATTR = re.compile(r"^@([\w.-]+)$")
_NOT_ATTR = re.compile(r"^not\(@([\w.-]+)\)$")
_CHILD = re.compile(r"^\(?([\w.-]+):([\w.-]+)\)?$")
_NOT_CHILD = re.compile(r"^not\(([\w.-]+):([\w.-]+)\)$")
_COUNT = re.compile(r"^count\(([\w.-]+):([\w.-]+)\)\s*(=|<=)\s*(\d+)$")
_CODES = re.compile(r"^string-length\(\$([\w.-]+)\)=0 or contains\('( [^']* )', "
                    r"concat\(' ', \$\1, ' '\)\)$")


def _one(test: str, report: bool, ns: dict[str, str], lets: dict[str, str],
         ) -> Callable[[etree._Element], bool] | None:
    """A Python predicate "this assertion holds" for the common simple shapes."""
    test = test.strip()
    check: Callable[[etree._Element], bool] | None = None
    if test == "true()":
        def check(_: etree._Element) -> bool:
            return True
    elif (m := _ATTR.match(test)) or (m := _NOT_ATTR.match(test)):
        name, negate = m.group(1), test.startswith("not(")
        def check(e: etree._Element, n: str = name, neg: bool = negate) -> bool:
            return (n in e.attrib) != neg
    elif ((m := _CHILD.match(test)) or (m := _NOT_CHILD.match(test))) and m.group(1) in ns:
        tag, negate = f"{{{ns[m.group(1)]}}}{m.group(2)}", test.startswith("not(")
        def check(e: etree._Element, t: str = tag, neg: bool = negate) -> bool:
            return any(c.tag == t for c in e) != neg
    elif (m := _COUNT.match(test)) and m.group(1) in ns:
        tag, op, n = f"{{{ns[m.group(1)]}}}{m.group(2)}", m.group(3), int(m.group(4))
        def check(e: etree._Element, t: str = tag, eq: bool = op == "=", k: int = n) -> bool:
            count = sum(1 for c in e if c.tag == t)
            return count == k if eq else count <= k
    elif (m := _CODES.match(test)) and lets.get(m.group(1)) is not None:
        source, codes = lets[m.group(1)], frozenset(m.group(2).split())
        def check(e: etree._Element, src: str = source, cs: frozenset[str] = codes) -> bool:
            value = "".join(e.itertext()) if src == "." else e.get(src[1:], "")
            return value == "" or value in cs
    if check is None:
        return None
    if report:
        inner = check
        return lambda e: not inner(e)
    return check


def _fast(lets: Any, asserts: Any, ns: dict[str, str]) -> Callable[[etree._Element], bool] | None:
    sources = {}
    for var, expr in lets:
        if expr != "." and not _ATTR.match(expr):
            return None
        sources[var] = expr
    checks = []
    for _, _, report, test, _ in asserts:
        one = _one(test, report, ns, sources)
        if one is None:
            return None
        checks.append(one)
    return lambda e: all(c(e) for c in checks)


def _split(path: str) -> list[str] | None:
    steps, depth, current = [], 0, ""
    for char in path:
        depth += char == "["
        depth -= char == "]"
        if char == "/" and depth == 0:
            steps.append(current)
            current = ""
        else:
            current += char
    steps.append(current)
    return None if any(not step for step in steps) else steps


def _chain(alt: str, ns: dict[str, str], ubl: bool) -> Chain | None:
    """Named steps with optional (non-positional) predicates, else ``None``."""
    absolute = not alt.startswith("//")
    steps = _split(alt[1:] if absolute else alt[2:])
    if steps is None:
        return None
    chain = []
    for step in steps:
        name, _, predicate = step.partition("[")
        match = _NAME.match(name.strip())
        if not match or (match.group(1) and match.group(1) not in ns):
            return None
        test = None
        if predicate:
            body = predicate[:-1].replace("][", ") and (")
            if not predicate.endswith("]") or _POSITIONAL.search(body) or "$" in body:
                return None
            test = _xpath(f"boolean(({body}))", ns, ubl)
        prefix, local = match.groups()
        chain.append((f"{{{ns[prefix]}}}{local}" if prefix else local, test))
    return absolute, tuple(chain)


def _last_name(selector: str) -> str | None:
    bare = re.sub(r"\[[^\[\]]*\]", "", re.sub(r"\[[^\[\]]*\]", "", selector)).strip()
    match = _STEP.search(bare)
    return match.group(1) if match and match.group(1) not in ("node", "text") else None


@cache
def compiled_set(name: str) -> tuple[tuple[_Rule, ...], ...]:
    """The rules of set ``name`` grouped by mode, each mode's by decreasing priority."""
    from services.ingest.domain import sch_rules
    from services.ingest.domain.sch_build import selectors

    ns = sch_rules.NAMESPACES[name]
    ubl = name == "BR-FR-UBL"
    modes: dict[str, list[tuple[float, int, _Rule]]] = {}
    for index, (mode, priority, match, lets, asserts) in enumerate(sch_rules.RULES[name]):
        alternatives = selectors(match)
        chains = [_chain(alt, ns, ubl) for alt in alternatives]
        conjunction = " and ".join(f"not({t})" if report else f"boolean({t})"
                                   for _, _, report, t, _ in asserts)
        texts = [match, *(e for _, e in lets), *(a[3] for a in asserts),
                 *(t for a in asserts for k, t in a[4] if k == "x")]
        rule = _Rule(
            conjunction=conjunction,
            fast=_fast(lets, asserts, ns),
            names=frozenset() if any(_last_name(a) is None for a, c in
                                     zip(alternatives, chains, strict=True) if c is None)
            else frozenset([c[1][-1][0] for c in chains if c is not None]
                           + [_last_name(a) or "" for a, c in
                              zip(alternatives, chains, strict=True) if c is None]),
            current=any("current()" in t for t in texts),
            chains=tuple(c for c in chains if c is not None),
            selectors=tuple((_last_name(alt), _xpath(alt, ns, ubl, smart=True))
                            for alt, c in zip(alternatives, chains, strict=True) if c is None),
            lets=tuple((var.replace(":", "_"), _xpath(f"({expr})", ns, ubl))
                       for var, expr in lets),
            all_hold=_xpath(conjunction, ns, ubl),
            asserts=tuple(
                (rid, flag, report, _xpath(f"boolean({test})", ns, ubl),
                 tuple((kind, _xpath(text, ns, ubl) if kind == "x" else text)
                       for kind, text in message))
                for rid, flag, report, test, message in asserts),
        )
        modes.setdefault(mode, []).append((-priority, index, rule))
    return tuple(tuple(r for _, _, r in sorted(rules, key=lambda x: x[:2]))
                 for rules in modes.values())


def index_document(root: etree._Element) -> Indexed:
    """Names present (Clark and local) and elements by Clark name, in document order."""
    names: set[str] = set()
    index: dict[str, list[etree._Element]] = {}
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str):
            index.setdefault(tag, []).append(element)
            names.add(tag)
            names.add(tag.rpartition("}")[2])
            for attribute in element.attrib:
                names.add(attribute.rpartition("}")[2])
    return names, index


def _chain_nodes(chain: Chain, index: dict[str, list[etree._Element]]) -> list[etree._Element]:
    absolute, steps = chain
    found = []
    last_name, last_test = steps[-1]
    for element in index.get(last_name, ()):
        if last_test is not None and not last_test(element):
            continue
        node: etree._Element | None = element
        for name, test in reversed(steps[:-1]):
            node = node.getparent() if node is not None else None
            if node is None or node.tag != name or (test is not None and not test(node)):
                break
        else:
            if not absolute or (node is not None and node.getparent() is None):
                found.append(element)
    return found


def _key(node: Any) -> Any:
    if isinstance(node, etree._Element):
        return node
    return (getattr(node, "getparent", lambda: None)(), getattr(node, "attrname", None))


def _where(root: etree._Element, node: Any) -> str:
    tree = root.getroottree()
    if isinstance(node, etree._Element):
        return tree.getpath(node)
    parent = getattr(node, "getparent", lambda: None)()
    if isinstance(parent, etree._Element):
        name = getattr(node, "attrname", None)
        return tree.getpath(parent) + (f"/@{etree.QName(name).localname}" if name else "")
    return "/"


def _message(parts: Message, node: etree._Element, variables: dict[str, Any]) -> str:
    out = []
    for kind, value in parts:
        if kind == "t":
            out.append(value)
            continue
        try:
            out.append(_s(value(node, **variables)))
        except etree.XPathError:
            out.append("?")
    text = " ".join("".join(out).split())
    return re.sub(r"^\[[^\]]+\]\s*-?\s*", "", text)


def run(name: str, root: etree._Element, indexed: Indexed | None = None) -> list[Hit]:
    """Every failed fatal assertion of set ``name`` on ``root``. ``indexed`` is
    :func:`index_document`'s result when several sets judge one document."""
    present, index = indexed or index_document(root)
    hits: list[Hit] = []
    chained: dict[Chain, list[etree._Element]] = {}
    # Plain rules (no lets, no current()) claiming each element, over every mode: their
    # assertions are then checked in one evaluation per element.
    plain: dict[etree._Element, list[_Rule]] = {}
    ubl = name == "BR-FR-UBL"
    for rules in compiled_set(name):
        claimed: set[Any] = set()
        for rule in rules:
            if rule.names and rule.names.isdisjoint(present):
                continue
            nodes: list[Any] = []
            for chain in rule.chains:
                if chain not in chained:
                    chained[chain] = _chain_nodes(chain, index)
                nodes += chained[chain]
            for last, selector in rule.selectors:
                if last is None or last in present:
                    try:
                        found = selector(root)
                    except etree.XPathError:
                        continue
                    nodes += found if isinstance(found, list) else []
            simple = not rule.lets and not rule.current
            for node in nodes:
                key = node if isinstance(node, etree._Element) else _key(node)
                if key in claimed:
                    continue
                claimed.add(key)
                if simple and isinstance(node, etree._Element):
                    plain.setdefault(node, []).append(rule)
                else:
                    hits += _judge(rule, root, node)
    for node, claiming in plain.items():
        rules_of = []
        for rule in claiming:
            if rule.fast is None:
                rules_of.append(rule)
            elif not rule.fast(node):
                hits += _judge(rule, root, node)
        if len(rules_of) > 1:
            with contextlib.suppress(etree.XPathError):
                if _together(tuple(rules_of), name, ubl)(node):
                    continue
        for rule in rules_of:
            hits += _judge(rule, root, node)
    return hits


_TOGETHER: dict[tuple[int, ...], etree.XPath] = {}


def _together(rules: tuple[_Rule, ...], name: str, ubl: bool) -> etree.XPath:
    """One XPath checking every assertion of ``rules`` (compiled once per combination)."""
    key = tuple(id(r) for r in rules)
    found = _TOGETHER.get(key)
    if found is None:
        from services.ingest.domain import sch_rules

        found = _xpath(" and ".join(f"({r.conjunction})" for r in rules),
                       sch_rules.NAMESPACES[name], ubl)
        if len(_TOGETHER) < 20_000:
            _TOGETHER[key] = found
    return found


def _judge(rule: _Rule, root: etree._Element, node: Any) -> list[Hit]:
    context = node if isinstance(node, etree._Element) else node.getparent()
    if not isinstance(context, etree._Element):
        return []
    if rule.fast is not None and rule.fast(context):
        return []
    variables: dict[str, Any] = {"current": [context]} if rule.current else {}
    try:
        if not rule.lets and rule.all_hold(context, **variables):
            return []
        for var, expr in rule.lets:
            value = expr(context, **variables)
            # lxml passes node-sets of elements only: attribute and text values become strings.
            if isinstance(value, list) and value and not isinstance(value[0], etree._Element):
                value = _s(value)
            variables[var] = value
        if rule.lets and rule.all_hold(context, **variables):
            return []
    except etree.XPathError:
        pass
    hits = []
    for rid, flag, report, test, message in rule.asserts:
        try:
            outcome = bool(test(context, **variables))
        except etree.XPathError as exc:
            hits.append(Hit(rid, flag, f"evaluation error: {exc}", _where(root, node)))
            continue
        if outcome == report:
            hits.append(Hit(rid, flag, _message(message, context, variables),
                            _where(root, node)))
    return hits
