"""Run the generated rule tables (:mod:`sch_rules`) on an lxml tree, as the XSLT would.

Semantics kept from the compiled schematron: each pattern is a mode; within a mode a node is
judged by the highest-priority rule whose pattern matches it, once; a rule's ``let``
variables are evaluated on its context node before its assertions; a failed ``assert`` (or a
true ``report``) yields one :class:`Hit` with the official message (the stylesheet's
``svrl:text`` and ``value-of`` parts) and the node's XPath as location.

Speed: patterns made of named steps are matched by element path, with the candidate rules
of each path worked out once per process (:mod:`sch_match`) and simple pattern predicates
decided in Python (:mod:`sch_pred`); expressions are rewritten into cheaper equivalents
(:mod:`sch_xpath`: absolute paths once per document, ``fn:exists`` as ``boolean`` …); the
assertions of the plain rules judging one element are evaluated together, and simple
assertion shapes in Python (:func:`_fast`); extension functions are bound only to the
expressions that call them (lxml re-registers them on every call). A rule's XPath 2.0
assertions (:mod:`sch_xpath2`, elementpath) are judged after the others, on the nodes the
same matching gave it, unless their XPath 1.0 guards show they hold there: elementpath's
tree of the document is built only when one is left. Pure and total: an
assertion that errors at run time is reported as failed, with the error, rather than raised.
Tables compile once per process and set, on first use.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from elementpath import ElementPathError
from lxml import etree

from services.ingest.domain import sch_match, sch_pred, sch_xpath, sch_xpath2
from services.ingest.domain.sch_functions import _s
from services.ingest.domain.sch_match import Chain, Indexed, Plan
from services.ingest.domain.sch_xpath import Compiled, Document

_STEP = re.compile(r"(?:^|/)@?(?:[\w.-]+:)?([\w.-]+)$")
_NAME = re.compile(r"^(?:([\w.-]+):)?([\w.-]+|\*)$")
_POSITIONAL = re.compile(r"^\s*\d|position\(|last\(")
Message = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Hit:
    """One finding of the generated rules."""

    rule: str
    flag: str
    message: str
    location: str


@dataclass(frozen=True, eq=False)
class _Rule:
    lets: tuple[tuple[str, etree.XPath], ...]
    all_hold: Compiled
    conjunction: str  # the text of all_hold
    # All assertions in Python when each is a simple shape (None otherwise); only a False
    # answer goes on to the XPath evaluation, which builds the messages.
    fast: Callable[[etree._Element], bool] | None
    current: bool  # some expression of the rule reads current()
    simple: bool  # no lets and no current(): judged with the element's other plain rules
    asserts: tuple[tuple[str, str, bool, Compiled, Message], ...]
    # The XPath 2.0 tier (official text, run by :mod:`sch_xpath2`): ``(lets, asserts, guard)``:
    # official expressions parsed on first use, and the XPath 1.0 guard under which they all
    # hold (skips the tier); ``None`` when the rule has no such assertion.
    xpath2: tuple[Any, Any, Any] | None = None
    namespaces: tuple[tuple[str, str], ...] = ()
    ubl: bool = False


def _xpath(expr: str, ns: dict[str, str], ubl: bool, smart: bool = False) -> etree.XPath:
    # One compiled object per distinct expression: the sets repeat many (memory).
    return _compiled(expr, tuple(sorted(ns.items())), ubl, smart)


def _rule_xpath(expr: str, ns: dict[str, str], ubl: bool) -> Compiled:
    return sch_xpath.compiled(expr, tuple(sorted(ns.items())), ubl)


@cache
def _compiled(expr: str, items: tuple[tuple[str, str], ...], ubl: bool,
              smart: bool) -> etree.XPath:
    ns = dict(items)
    expr = expr.replace("current()", "$current")
    # Only the extension functions the expression names, and no EXSLT regexp functions (no
    # rule uses them): lxml registers every one on each evaluation.
    return etree.XPath(expr, namespaces=ns, smart_strings=smart, regexp=False,
                       extensions=sch_xpath.bound(expr, ns, ubl))


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
    if len(checks) == 1:
        return checks[0]

    def every(e: etree._Element) -> bool:
        return all(check(e) for check in checks)
    return every


_ENDS = re.compile(r"^fn:ends-with\(name\(\),\s*'([\w.-]+)'\)$")
_NOT_ENDS = re.compile(r"^not\s*\(fn:ends-with\(name\(\),\s*'([\w.-]+)'\)\)$")
_NOT_SELF = re.compile(r"^not\s*\(self::([\w.-]+):([\w.-]+)\)$")


def _static(conjunct: str, ns: dict[str, str]) -> tuple[str, str] | None:
    """A predicate on the element's name only, decided from its tag."""
    if m := _ENDS.match(conjunct):
        return "suffix", m.group(1)
    if m := _NOT_ENDS.match(conjunct):
        return "!suffix", m.group(1)
    if (m := _NOT_SELF.match(conjunct)) and m.group(1) in ns:
        return "!tag", f"{{{ns[m.group(1)]}}}{m.group(2)}"
    return None


def _chain(alt: str, ns: dict[str, str], ubl: bool) -> Chain | None:
    """Named (or ``*``) steps with optional (non-positional) predicates, else ``None``."""
    absolute = not alt.startswith("//")
    steps = sch_pred.split(alt[1:] if absolute else alt[2:])
    if steps is None:
        return None
    chain = []
    for step in steps:
        name, _, predicate = step.partition("[")
        match = _NAME.match(name.strip())
        if not match or (match.group(1) and match.group(1) not in ns):
            return None
        static: list[tuple[str, str]] = []
        test = None
        if predicate:
            body = predicate[:-1].replace("][", ") and (")
            if not predicate.endswith("]") or _POSITIONAL.search(body) or "$" in body:
                return None
            rest = []
            for conjunct in sch_pred.split(predicate[:-1], " and ") or [predicate[:-1]]:
                fixed = _static(conjunct.strip(), ns) if "][" not in predicate else None
                if fixed is None:
                    rest.append(conjunct.strip())
                else:
                    static.append(fixed)
            if rest:
                body = " and ".join(f"({c})" for c in rest) if static else body
                test = sch_pred.predicate(sch_pred.conjuncts(predicate[:-1]), ns) \
                    or _rule_xpath(f"boolean(({body}))", ns, ubl)
        prefix, local = match.groups()
        if local == "*":
            tag = f"{{{ns[prefix]}}}*" if prefix else "*"
        else:
            tag = f"{{{ns[prefix]}}}{local}" if prefix else local
        chain.append((tag, tuple(static), test))
    return absolute, tuple(chain)


def _last_name(selector: str) -> str | None:
    bare = re.sub(r"\[[^\[\]]*\]", "", re.sub(r"\[[^\[\]]*\]", "", selector)).strip()
    match = _STEP.search(bare)
    return match.group(1) if match and match.group(1) not in ("node", "text") else None


@cache
def compiled_set(name: str) -> Plan:
    """The rules of set ``name``: per mode by decreasing priority, as a matching plan."""
    from services.ingest.domain import sch_rules
    from services.ingest.domain.sch_build import selectors

    ns = sch_rules.NAMESPACES[name]
    ubl = name == "BR-FR-UBL"
    modes: dict[str, list[tuple[float, int, _Rule, tuple[Chain, ...], list[str]]]] = {}
    for index, (mode, priority, match, lets, asserts, xpath2) in enumerate(
            sch_rules.RULES[name]):
        alternatives = selectors(match)
        found = [_chain(alt, ns, ubl) for alt in alternatives]
        conjunction = " and ".join(f"not({t})" if report else f"boolean({t})"
                                   for _, _, report, t, _ in asserts) or "true()"
        texts = [match, *(e for _, e in lets), *(a[3] for a in asserts),
                 *(t for a in asserts for k, t in a[4] if k == "x")]
        current = any("current()" in t for t in texts)
        rule = _Rule(
            conjunction=conjunction,
            fast=_fast(lets, asserts, ns),
            simple=not lets and not current,
            current=current,
            lets=tuple((var.replace(":", "_"), _rule_xpath(f"({expr})", ns, ubl))
                       for var, expr in lets),
            all_hold=_rule_xpath(conjunction, ns, ubl),
            asserts=tuple(
                (rid, flag, report, _rule_xpath(f"boolean({test})", ns, ubl),
                 tuple((kind, _rule_xpath(text, ns, ubl) if kind == "x" else text)
                       for kind, text in message))
                for rid, flag, report, test, message in asserts),
            xpath2=(xpath2[0], xpath2[1], _guard(xpath2[1], ns, ubl)) if xpath2 else None,
            namespaces=tuple(sorted(ns.items())),
            ubl=ubl,
        )
        others = [alt for alt, c in zip(alternatives, found, strict=True) if c is None]
        modes.setdefault(mode, []).append(
            (-priority, index, rule, tuple(c for c in found if c is not None), others))
    plan = Plan(rules=[], selectors=[])
    for number, rules in enumerate(modes.values()):
        for rank, (_, _, rule, chains, others) in enumerate(sorted(rules, key=lambda x: x[:2])):
            slots = []
            for alt in others:
                plan.selectors.append((_last_name(alt), _xpath(alt, ns, ubl, smart=True)))
                slots.append((len(plan.selectors) - 1, _last_name(alt)))
            plan.rules.append((number, rank, rule, chains, tuple(slots)))
    return plan


def index_document(root: etree._Element) -> Indexed:
    """The document's elements with their paths, shared by the sets judging it."""
    return sch_match.index_document(root)


def _where(doc: Document, node: Any) -> str:
    tree = doc.root.getroottree()
    if isinstance(node, etree._Element):
        return tree.getpath(node)
    parent = getattr(node, "getparent", lambda: None)()
    if isinstance(parent, etree._Element):
        name = getattr(node, "attrname", None)
        return tree.getpath(parent) + (f"/@{etree.QName(name).localname}" if name else "")
    return "/"


_RULE_PREFIX = re.compile(r"^\[[^\]]+\]\s*-?\s*")


def _render(parts: Message, value_of: Callable[[Any], str],
            errors: type[Exception]) -> str:
    """An assertion's ``svrl:text``: its text parts, each ``value-of`` part by ``value_of``
    ("?" when that raises ``errors``), whitespace collapsed, a leading ``[rule id]`` dropped."""
    out = []
    for kind, value in parts:
        if kind == "t":
            out.append(value)
            continue
        try:
            out.append(value_of(value))
        except errors:
            out.append("?")
    return _RULE_PREFIX.sub("", " ".join("".join(out).split()))


def _message(parts: Message, node: etree._Element, variables: dict[str, Any],
             doc: Document) -> str:
    return _render(parts, lambda x: _s(x(node, doc, **variables)), etree.XPathError)


def run(name: str, root: etree._Element, indexed: Indexed | None = None) -> list[Hit]:
    """Every failed fatal assertion of set ``name`` on ``root``. ``indexed`` is
    :func:`index_document`'s result when several sets judge one document."""
    indexed = indexed or index_document(root)
    doc = indexed.document
    plan = compiled_set(name)
    hits: list[Hit] = []
    # Plain rules (no lets, no current()) claiming each element, over every mode: their
    # assertions are then checked in one evaluation per element.
    plain: dict[etree._Element, list[_Rule]] = {}

    # Rules with XPath 2.0 assertions and the nodes they judge: elementpath's tree of the
    # document is built only when this is not empty.
    pending: list[tuple[_Rule, etree._Element]] = []

    def visit(rule: _Rule, element: etree._Element) -> None:
        if rule.xpath2 is not None and not _guarded(rule, element, doc):
            pending.append((rule, element))
        if rule.simple:
            plain.setdefault(element, []).append(rule)
        else:
            hits.extend(_judge(rule, doc, element))

    chosen = sch_match.selected(plan, root, indexed)
    sch_match.judged_by(plan, indexed, chosen, visit)
    ubl = name == "BR-FR-UBL"
    for node, claiming in plain.items():
        rules_of = []
        for rule in claiming:
            if rule.fast is None:
                rules_of.append(rule)
            elif not rule.fast(node):
                hits += _judge(rule, doc, node)
        if len(rules_of) > 1:
            with contextlib.suppress(etree.XPathError):
                if _together(tuple(rules_of), name, ubl)(node, doc):
                    continue
        for rule in rules_of:
            hits += _judge(rule, doc, node)
    if pending:
        tree = sch_xpath2.tree_of(indexed, root)
        for rule, node in pending:
            hits += _judge2(rule, doc, tree, node)
    return hits


Guards = tuple[tuple[tuple[tuple[str, Compiled], ...], Compiled], ...]


def _guard(asserts: Any, ns: dict[str, str], ubl: bool) -> tuple[Guards, ...] | None:
    """Per XPath 2.0 assertion of a rule, its build-time guards (XPath 1.0 ``(lets, test)``
    alternatives: one holding shows the assertion holds), compiled; ``None`` when some
    assertion has none."""
    if not all(a[5] for a in asserts):
        return None
    return tuple(
        tuple((tuple((var, _rule_xpath(f"({expr})", ns, ubl)) for var, expr in lets),
               _rule_xpath(f"boolean({test})", ns, ubl)) for lets, test in a[5])
        for a in asserts)


def _guarded(rule: _Rule, node: Any, doc: Document) -> bool:
    """True when the guards show every XPath 2.0 assertion of the rule holds on ``node``."""
    guards = rule.xpath2[2] if rule.xpath2 is not None else None
    context = node if isinstance(node, etree._Element) else node.getparent()
    if guards is None or not isinstance(context, etree._Element):
        return False
    try:
        return all(any(_holds(lets, test, context, doc) for lets, test in alternatives)
                   for alternatives in guards)
    except etree.XPathError:
        return False


def _holds(lets: tuple[tuple[str, Compiled], ...], test: Compiled, context: etree._Element,
           doc: Document) -> bool:
    variables: dict[str, Any] = {"current": [context]}
    for var, expr in lets:
        variables[var] = expr(context, doc, **variables)
    return bool(test(context, doc, **variables))


def _judge2(rule: _Rule, doc: Document, tree: Any, node: Any) -> list[Hit]:
    """The XPath 2.0 assertions of ``rule`` on ``node`` (its lets evaluated first)."""
    context = node if isinstance(node, etree._Element) else node.getparent()
    if not isinstance(context, etree._Element) or rule.xpath2 is None:
        return []
    lets, asserts, _ = rule.xpath2
    ns, ubl = rule.namespaces, rule.ubl
    hits = []
    variables: dict[str, Any] = {"current": sch_xpath2.node_of(tree, context)}
    try:
        for var, expr in lets:
            variables[var] = sch_xpath2.evaluate(sch_xpath2.compiled(expr, ns, ubl), tree,
                                                 context, variables)
    except ElementPathError as exc:
        return [Hit(rid, flag, f"evaluation error: {exc}", _where(doc, node))
                for rid, flag, *_ in asserts]
    for rid, flag, report, test, message, _ in asserts:
        try:
            outcome = sch_xpath2.holds(sch_xpath2.compiled(test, ns, ubl), tree, context,
                                       variables)
        except ElementPathError as exc:
            hits.append(Hit(rid, flag, f"evaluation error: {exc}", _where(doc, node)))
            continue
        if outcome == report:
            hits.append(Hit(rid, flag, _message2(message, context, variables, tree, rule),
                            _where(doc, node)))
    return hits


def _message2(parts: Message, node: etree._Element, variables: dict[str, Any], tree: Any,
              rule: _Rule) -> str:
    def value_of(expr: str) -> str:
        token = sch_xpath2.compiled(expr, rule.namespaces, rule.ubl)
        return sch_xpath2.text(sch_xpath2.evaluate(token, tree, node, variables))
    return _render(parts, value_of, ElementPathError)


_TOGETHER: dict[tuple[int, ...], Compiled] = {}


def _together(rules: tuple[_Rule, ...], name: str, ubl: bool) -> Compiled:
    """One XPath checking every assertion of ``rules`` (compiled once per combination)."""
    key = tuple(id(r) for r in rules)
    found = _TOGETHER.get(key)
    if found is None:
        from services.ingest.domain import sch_rules

        found = _rule_xpath(" and ".join(f"({r.conjunction})" for r in rules),
                       sch_rules.NAMESPACES[name], ubl)
        if len(_TOGETHER) < 20_000:
            _TOGETHER[key] = found
    return found


def _judge(rule: _Rule, doc: Document, node: Any) -> list[Hit]:
    context = node if isinstance(node, etree._Element) else node.getparent()
    if not isinstance(context, etree._Element):
        return []
    if rule.fast is not None and rule.fast(context):
        return []
    variables: dict[str, Any] = {"current": [context]} if rule.current else {}
    try:
        if not rule.lets and rule.all_hold(context, doc, **variables):
            return []
        for var, expr in rule.lets:
            value = expr(context, doc, **variables)
            # lxml passes node-sets of elements only: attribute and text values become strings.
            if isinstance(value, list) and value and not isinstance(value[0], etree._Element):
                value = _s(value)
            variables[var] = value
        if rule.lets and rule.all_hold(context, doc, **variables):
            return []
    except etree.XPathError:
        pass
    hits = []
    for rid, flag, report, test, message in rule.asserts:
        try:
            outcome = bool(test(context, doc, **variables))
        except etree.XPathError as exc:
            hits.append(Hit(rid, flag, f"evaluation error: {exc}", _where(doc, node)))
            continue
        if outcome == report:
            hits.append(Hit(rid, flag, _message(message, context, variables, doc),
                            _where(doc, node)))
    return hits
