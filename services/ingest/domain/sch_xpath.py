"""Compiled XPath of the rule tables, rewritten to cost less on lxml with the same value.

The generated tables (:mod:`sch_rules`) keep the official expressions; before compiling,
rewrites that do not change any result are applied:

* every absolute location path selecting elements (``//cac:TaxCategory[…]/cbc:ID``,
  ``/rsm:CrossIndustryInvoice/…``; no variable inside) becomes a variable, evaluated once per
  document (:class:`Document`) instead of once per context node: the root rules of the
  official sets have dozens, and libxml2 builds the node-set of every node for each ``//``.
  ``//p:Name…`` starts from the document's ``p:Name`` elements (the element index) unless its
  first step has a positional predicate (``[1]``, ``last()``, ``position()``: relative to
  the siblings), with that step's simple predicates decided in Python (:mod:`sch_pred`) once
  per document; plain child paths (``/a:B/a:C``) are read from the index;
* ``fn:exists(path)`` is ``boolean(path)`` and ``fn:empty(path)`` is ``not(path)`` for a
  node-set argument: no call into Python;
* ``fn:any-true(path)``/``fn:any-false(path)`` (a node compared with ``true()``, cast as
  xs:boolean) become a predicate on the nodes' normalized text;
* ``fn:upper-case(path) = 'VAT'`` is ``translate(path, 'vat', 'VAT') = 'VAT'``: in Unicode
  only v, a and t upper-case to V, A and T.
* ``xs:decimal(E)`` is ``(E)`` when ``E`` is a number already (:mod:`sch_numbers`).

Compiled once per distinct expression and process (:func:`compiled`), with only the extension
functions the expression names and without the EXSLT ``re:`` functions (no table uses them):
lxml registers every bound function on each evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree

from services.ingest.domain import sch_numbers, sch_pred
from services.ingest.domain.sch_functions import FUNCTIONS, UBL_FUNCTIONS, XS
from services.ingest.domain.sch_pred import Predicate

_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_PATH_START = re.compile(r"(?<![\w.)\]*@:/\x00$-])/")
_STEP_CHARS = re.compile(r"[\w.:*@-]*")
_PATH = r"[\w.:@/-]+(?:\[[^\[\]()]*\])?(?:/[\w.:@-]+)*"
_ANY = re.compile(rf"fn:any-(true|false)\(\s*({_PATH})\s*\)")
_UPPER_VAT = re.compile(rf"fn:upper-case\(\s*({_PATH})\s*\)(\)?\s*=\s*'VAT')")


@dataclass(frozen=True, eq=False)
class Compiled:
    """An XPath and the document-wide paths it reads, bound as variables ``(name, path)``."""

    xpath: etree.XPath
    needs: tuple[tuple[str, PathQuery], ...]

    def __call__(self, node: Any, doc: Document, **variables: Any) -> Any:
        if self.needs:
            for name, path in self.needs:
                variables[name] = doc.nodes(path)
        return self.xpath(node, **variables)


@dataclass(frozen=True, eq=False)
class PathQuery:
    """An absolute path; ``//p:Name…`` is run from the document's ``p:Name`` elements
    (``head``), which ``iter`` finds without the node-set of every node libxml2 builds."""

    xpath: etree.XPath
    head: str | None
    # A path of plain child steps from the root (``/p:A/p:B``): the elements at that path.
    steps: tuple[str, ...] | None = None
    # The first step's predicates decided in Python (shared by the paths that start alike);
    # ``rest`` False: the path ends there (no XPath to run).
    head_filter: Predicate | None = None
    filter_key: str = ""
    rest: bool = True


class Document:
    """Per-document values the rewritten expressions read (absolute paths, once each)."""

    def __init__(self, root: etree._Element, elements: list[tuple[etree._Element, int]],
                 tags: Callable[[int], tuple[str, ...]],
                 by_tag: dict[str, list[etree._Element]] | None = None,
                 by_pid: dict[int, list[etree._Element]] | None = None,
                 pid_of_steps: Callable[[tuple[str, ...]], int | None] | None = None,
                 ) -> None:
        """``by_tag``/``by_pid``: the elements by tag and by path id, in document order,
        when the caller built them while indexing (with ``pid_of_steps``, the path id of a
        tag path); else the indexes are built here on first use."""
        self.root = root
        self._elements = elements
        self._tags = tags
        self._by_tag: dict[str, list[etree._Element]] = {}
        self._by_path: dict[tuple[str, ...], list[etree._Element]] | None = None
        self._by_pid = by_pid if by_tag is not None and pid_of_steps is not None else None
        self._pid_of_steps = pid_of_steps
        if self._by_pid is not None and by_tag is not None:
            self._by_tag = by_tag
        self._paths: dict[PathQuery, list[etree._Element]] = {}
        self._filtered: dict[tuple[str, str], list[etree._Element]] = {}
        # The values the Python predicates (sch_pred) read, shared by every set judging it.
        self.values: dict[tuple[int, etree._Element], list[str]] = {}

    def heads(self, path: PathQuery) -> list[etree._Element]:
        """The ``head`` elements of ``path``, filtered by its Python predicates (cached)."""
        assert path.head is not None
        if path.head_filter is None:
            return self.by_tag(path.head)
        key = (path.head, path.filter_key)
        found = self._filtered.get(key)
        if found is None:
            check = path.head_filter
            found = self._filtered[key] = [e for e in self.by_tag(path.head) if check(e, self)]
        return found

    def _index(self) -> dict[tuple[str, ...], list[etree._Element]]:
        if self._by_path is None:
            self._by_path = {}
            for element, pid in self._elements:
                self._by_tag.setdefault(element.tag, []).append(element)
                self._by_path.setdefault(self._tags(pid), []).append(element)
        return self._by_path

    def at(self, steps: tuple[str, ...]) -> list[etree._Element]:
        """The elements at the tag path ``steps`` from the root, in document order."""
        if self._by_pid is not None and self._pid_of_steps is not None:
            pid = self._pid_of_steps(steps)
            return self._by_pid.get(pid, []) if pid is not None else []
        return self._index().get(steps, [])

    def by_tag(self, tag: str) -> list[etree._Element]:
        """The document's ``tag`` elements in document order (one pass, on first use)."""
        if self._by_pid is None:
            self._index()
        return self._by_tag.get(tag, [])

    def nodes(self, path: PathQuery) -> list[etree._Element]:
        """The elements the absolute ``path`` selects, in document order."""
        found = self._paths.get(path)
        if found is None:
            try:
                if path.steps is not None:
                    value = self.at(path.steps)
                elif path.head is None:
                    value = path.xpath(self.root)
                else:
                    heads = self.heads(path)
                    value = (path.xpath(self.root, __head=heads) if path.rest else heads) \
                        if heads else []
            except etree.XPathError:
                value = []
            found = [v for v in value if isinstance(v, etree._Element)] \
                if isinstance(value, list) else []
            self._paths[path] = found
        return found


_ABSOLUTE: dict[str, str] = {}


def _absolute_paths(text: str, strings: list[str], ns: dict[str, str], ubl: bool,
                    needs: dict[str, PathQuery]) -> str:
    """Each absolute location path selecting elements becomes a document variable."""
    out, at = [], 0
    for match in _PATH_START.finditer(text):
        if match.start() < at or not _starts_path(text, match.start()):
            continue
        end = _path_end(text, match.start())
        path = text[match.start():end]
        if end < 0 or not _element_path(path):
            continue
        source = _restore(path, strings)
        name = _ABSOLUTE.setdefault(source, f"__p{len(_ABSOLUTE)}")
        # Only the prefixes the path uses: the sets judging one document share it.
        used = sorted((p, u) for p, u in ns.items() if f"{p}:" in source)
        needs[name] = _path_xpath(source, tuple(used), ubl)
        out.append(text[at:match.start()] + f"${name}")
        at = end
    out.append(text[at:])
    return "".join(out)


def _starts_path(text: str, at: int) -> bool:
    """Whether the ``/`` at ``at`` starts an absolute path (not a step after ``] /``)."""
    before = text[:at].rstrip()
    if not before or before[-1] in "([,|=<>!+":
        return True
    word = re.search(r"(?:^|\s)(or|and|div|mod)$", before)
    return word is not None


def _path_end(text: str, start: int) -> int:
    """Where the location path starting at ``start`` ends (-1: not a plain path)."""
    at = start
    while at < len(text) and text[at] == "/":
        at += 2 if text.startswith("//", at) else 1
        step = _STEP_CHARS.match(text, at)
        at = step.end() if step else at
        while at < len(text) and text[at] == "[":
            depth = 0
            while at < len(text):
                depth += {"[": 1, "]": -1}.get(text[at], 0)
                at += 1
                if depth == 0:
                    break
            if depth:
                return -1
        if at < len(text) and text[at] == "(":
            return -1  # a function call or node test: not a plain element path
    return at


def _element_path(path: str) -> bool:
    last = re.sub(r"\[.*", "", path.rsplit("/", 1)[-1])
    return (len(path) > 1 and "$" not in path and bool(last) and not last.startswith("@")
            and "::" not in last and last not in (".", ".."))


_CHILDREN = re.compile(r"^(/[\w.-]+:[\w.-]+)+$")
_HEAD = re.compile(r"^//([\w.-]+):([\w.-]+)(?![\w.:(-])")


@cache
def _path_xpath(path: str, items: tuple[tuple[str, str], ...], ubl: bool) -> PathQuery:
    ns = dict(items)
    extensions = bound(path, ns, ubl)
    if _CHILDREN.match(path) and all(step.split(":")[0] in ns for step in path[1:].split("/")):
        steps = tuple(f"{{{ns[p]}}}{local}" for p, local in
                      (step.split(":") for step in path[1:].split("/")))
        return PathQuery(etree.XPath(path, namespaces=ns, regexp=False), None, steps)
    head = _HEAD.match(path)
    if head and head.group(1) in ns:
        rest = path[head.end():]
        first = re.match(r"^(\[[^\[\]]*\])*", rest)
        predicates = first.group(0) if first else ""
        # A position on the first step counts among siblings, not among all p:Name.
        if not re.search(r"\[\s*[\d(]|position\(|last\(|\[[^\]]*\[", predicates):
            tag = f"{{{ns[head.group(1)]}}}{head.group(2)}"
            python = sch_pred.predicate(sch_pred.conjuncts(predicates[1:-1]), ns) \
                if predicates else None
            after = rest[len(predicates):] if python is not None else rest
            return PathQuery(etree.XPath(f"$__head{after}", namespaces=ns, smart_strings=False,
                                         regexp=False, extensions=extensions),
                             tag, head_filter=python, filter_key=predicates,
                             rest=bool(after))
    return PathQuery(etree.XPath(path, namespaces=ns, smart_strings=False, regexp=False,
                                 extensions=extensions), None)


def _protect(expr: str) -> tuple[str, list[str]]:
    strings: list[str] = []

    def keep(match: re.Match[str]) -> str:
        strings.append(match.group(0))
        return f"\x00{len(strings) - 1}\x00"
    return _STRING.sub(keep, expr), strings


def _restore(expr: str, strings: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: strings[int(m.group(1))], expr)


_CALL_EXISTS = re.compile(r"(?<![\w.:-])fn:(exists|empty)\(")
_OPERATORS = frozenset({"or", "and", "div", "mod", "-", "+", "=", "!=", "<", ">", "<=", ">=",
                        "*"})


def _node_set(arg: str) -> bool:
    """Whether ``arg`` (strings protected) is a path or a union of paths: a node-set."""
    arg = arg.strip()
    if not arg or arg[0] in "\x00'\"-+0123456789" or (arg[0] == "$"
                                                       and not arg.startswith("$__p")):
        return False
    depth, top = 0, []
    for char in arg:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0:
            top.append(char)
    flat = "".join(top)
    if "(" in flat or "," in flat or re.search(r"[=<>!+]", flat):
        return False
    return not any(word in _OPERATORS for word in flat.split())


def _exists(text: str) -> str:
    out, at = [], 0
    for match in _CALL_EXISTS.finditer(text):
        if match.start() < at:
            continue
        end = sch_numbers.closing(text, match.end())
        if end < 0 or not _node_set(arg := text[match.end():end - 1]):
            continue
        out.append(text[at:match.start()])
        out.append(f"{'boolean' if match.group(1) == 'exists' else 'not'}({_exists(arg)})")
        at = end
    out.append(text[at:])
    return "".join(out)


def rewrite(expr: str, ns: dict[str, str], ubl: bool = False,
            ) -> tuple[str, tuple[tuple[str, PathQuery], ...]]:
    """``expr`` rewritten, with the document variables it now reads."""
    # Only the ASCII letters v, a, t upper-case to V, A, T (Unicode case mappings).
    text = _UPPER_VAT.sub(lambda m: f"translate({m.group(1)}, 'vat', 'VAT'){m.group(2)}", expr)
    text, strings = _protect(text)
    needs: dict[str, PathQuery] = {}

    text = _absolute_paths(text, strings, ns, ubl, needs)
    text = _exists(text)
    text = sch_numbers.decimals(text, [p for p, uri in ns.items() if uri == XS])
    text = _ANY.sub(lambda m: f"boolean(({m.group(2)})[normalize-space(.) = "
                    + ("'true' or normalize-space(.) = '1'])" if m.group(1) == "true"
                       else "'false' or normalize-space(.) = '0'])"), text)
    return _restore(text, strings), tuple(sorted(needs.items()))


def bound(text: str, ns: dict[str, str], ubl: bool,
          ) -> dict[tuple[str | None, str], Callable[..., Any]] | None:
    """The extension functions ``text`` may call (``None``: none). lxml registers every
    function given on each evaluation: the 37 cost 2 µs more per call than the one used."""
    functions = UBL_FUNCTIONS if ubl else FUNCTIONS
    prefixes: dict[str, list[str]] = {}
    for prefix, uri in ns.items():
        prefixes.setdefault(uri, []).append(prefix)
    # A name found as a substring is kept (is-valid-decimal-19-6 inside …-6-positive):
    # binding a function more is harmless, binding one less would fail the expression.
    chosen = {key: f for key, f in functions.items()
              if any(f"{p}:{key[1]}" in text for p in prefixes.get(key[0] or "", ()))}
    return chosen or None


@cache
def compiled(expr: str, items: tuple[tuple[str, str], ...], ubl: bool) -> Compiled:
    """``expr`` rewritten and compiled (one object per distinct expression: memory)."""
    ns = dict(items)
    text, needs = rewrite(expr.replace("current()", "$current"), ns, ubl)
    return Compiled(etree.XPath(text, namespaces=ns, smart_strings=False, regexp=False,
                                extensions=bound(text, ns, ubl)), needs)
