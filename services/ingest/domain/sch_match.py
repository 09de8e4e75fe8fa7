"""Which rule of each mode judges which element: XSLT template matching, by element path.

A match pattern made of named steps (``/a/b[pred]``, ``//b``, ``/*/c``, ``//ram:*[...]``) is a
:data:`Chain`. Whether a chain can match an element depends on the element's *path* (the
tags from the root) and on the chain's predicates. Paths are interned once per process
(:func:`path_id`), so the rules a path can match are worked out once per (set, path) and
kept (:class:`Plan`); a document then costs one dictionary look-up per element, plus the
predicates of the candidates. The predicates a pattern states on the element's name
(``fn:ends-with(name(), 'Amount')``, ``not(self::ram:X)``) are decided on the path too.

Patterns that are not chains (a variable or a position in a predicate) stay XPath
selectors, evaluated once per document. The interned paths and plans are per process and not
locked: one analysis at a time per process (ingest's analysis workers are processes).
Semantics kept: per mode, an element is judged by the highest-priority rule that matches it
(first in each mode's list), once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from services.ingest.domain.sch_xpath import Document

# A step: (tag test, runtime predicate or None). The tag test is a Clark name, "*" (any
# element), "{ns}*", or a local name; plus static name checks ("suffix", "!suffix", "!tag").
# A predicate test on an element: a compiled XPath or a Python one (sch_pred).
Test = Callable[[etree._Element, Document], Any]
Step = tuple[str, tuple[tuple[str, str], ...], Test | None]
# (absolute, steps root-most first)
Chain = tuple[bool, tuple[Step, ...]]

_MAX_PATHS = 200_000
_PATH_IDS: dict[tuple[int, str], int] = {}
_PATH_TAGS: list[tuple[str, ...]] = [()]


def path_id(parent: int, tag: str) -> int:
    """The interned id of the path ``parent``/``tag`` (0 is the document)."""
    key = (parent, tag)
    found = _PATH_IDS.get(key)
    if found is None:
        found = len(_PATH_TAGS)
        _PATH_IDS[key] = found
        _PATH_TAGS.append((*_PATH_TAGS[parent], tag))
    return found


def _tags(pid: int) -> tuple[str, ...]:
    return _PATH_TAGS[pid]


def reset_paths_if_full() -> bool:
    """Forget the interned paths (and, through the caller, the plans) when too many."""
    if len(_PATH_TAGS) < _MAX_PATHS:
        return False
    _PATH_IDS.clear()
    del _PATH_TAGS[1:]
    return True


@dataclass
class Indexed:
    """A document's elements, in document order, with their path ids."""

    elements: list[tuple[etree._Element, int]]
    generation: int
    document: Document


_GENERATION = [0]


def index_document(root: etree._Element) -> Indexed:
    """Walk ``root`` once: every element with its path id."""
    if reset_paths_if_full():
        _GENERATION[0] += 1
    elements: list[tuple[etree._Element, int]] = []
    by_tag: dict[str, list[etree._Element]] = {}
    by_pid: dict[int, list[etree._Element]] = {}
    pid_of: dict[etree._Element, int] = {}
    ids = _PATH_IDS
    # One pass fills the document's tag and path indexes too (sch_xpath.Document).
    for element in root.iter("*"):
        parent = element.getparent()
        tag = element.tag
        parent_pid = pid_of.get(parent, 0) if parent is not None else 0
        pid = ids.get((parent_pid, tag))
        if pid is None:
            pid = path_id(parent_pid, tag)
        pid_of[element] = pid
        elements.append((element, pid))
        found = by_tag.get(tag)
        if found is None:
            by_tag[tag] = [element]
        else:
            found.append(element)
        found = by_pid.get(pid)
        if found is None:
            by_pid[pid] = [element]
        else:
            found.append(element)
    return Indexed(elements, _GENERATION[0],
                   Document(root, elements, _tags, by_tag=by_tag, by_pid=by_pid,
                            pid_of_steps=_pid_of_steps))


def _pid_of_steps(steps: tuple[str, ...]) -> int | None:
    """The interned id of the path ``steps`` from the root, ``None`` if never seen."""
    pid = 0
    for tag in steps:
        found = _PATH_IDS.get((pid, tag))
        if found is None:
            return None
        pid = found
    return pid


def local_names(indexed: Indexed) -> set[str]:
    """The local names of the document's elements."""
    return {_PATH_TAGS[pid][-1].rpartition("}")[2] for pid in {p for _, p in indexed.elements}}


def _tag_ok(tag: str, test: str, static: tuple[tuple[str, str], ...]) -> bool:
    if test == "*":
        pass
    elif test.endswith("}*"):
        if not tag.startswith(test[:-1]):
            return False
    elif tag != test:
        return False
    local = tag.rpartition("}")[2]
    for kind, value in static:
        if kind == "suffix" and not local.endswith(value):
            return False
        if kind == "!suffix" and local.endswith(value):
            return False
        if kind == "!tag" and tag == value:
            return False
    return True


def chain_on_path(chain: Chain, tags: tuple[str, ...],
                  ) -> tuple[tuple[int, Test], ...] | None:
    """The runtime predicates ``(ancestor distance, test)`` if ``chain`` can match an
    element at path ``tags``, else ``None``."""
    absolute, steps = chain
    if len(tags) < len(steps) or (absolute and len(tags) != len(steps)):
        return None
    tests = []
    for distance, (test, static, predicate) in enumerate(reversed(steps)):
        if not _tag_ok(tags[-1 - distance], test, static):
            return None
        if predicate is not None:
            tests.append((distance, predicate))
    return tuple(tests)


# One candidate of a path: (mode index, rule, chain predicates, selector slot or -1).
Entry = tuple[int, Any, tuple[tuple[int, Test], ...], int]


@dataclass
class Plan:
    """The candidates of one set, per path, in mode then priority order."""

    # (mode index, rank, rule, chains, selector slots with their last local name or None)
    rules: list[tuple[int, int, Any, tuple[Chain, ...], tuple[tuple[int, str | None], ...]]]
    selectors: list[tuple[str | None, etree.XPath]]
    paths: dict[int, tuple[Entry, ...]] = field(default_factory=dict)
    generation: int = 0

    def for_path(self, pid: int, generation: int) -> tuple[Entry, ...]:
        """The rules an element at path ``pid`` may be judged by (cached per path)."""
        if generation != self.generation:
            self.paths.clear()
            self.generation = generation
        found = self.paths.get(pid)
        if found is None:
            found = self.paths[pid] = self._entries(_PATH_TAGS[pid])
        return found

    def _entries(self, tags: tuple[str, ...]) -> tuple[Entry, ...]:
        local = tags[-1].rpartition("}")[2]
        out: list[Entry] = []
        for mode, _, rule, chains, slots in self.rules:
            for chain in chains:
                tests = chain_on_path(chain, tags)
                if tests is not None:
                    out.append((mode, rule, tests, -1))
                    if not tests:
                        break
            else:
                out.extend((mode, rule, (), slot) for slot, last in slots
                           if last is None or last == local)
        return tuple(out)


def selected(plan: Plan, root: etree._Element, indexed: Indexed) -> list[set[Any] | None]:
    """The elements each selector slot of ``plan`` selects in this document."""
    out: list[set[Any] | None] = []
    names = local_names(indexed) if plan.selectors else set()
    for last, selector in plan.selectors:
        if last is not None and last not in names:
            out.append(None)
            continue
        try:
            found = selector(root)
        except etree.XPathError:
            out.append(None)
            continue
        out.append({n for n in found if isinstance(n, etree._Element)}
                   if isinstance(found, list) else None)
    return out


def _ancestor(element: etree._Element, distance: int) -> etree._Element | None:
    node: etree._Element | None = element
    for _ in range(distance):
        node = node.getparent() if node is not None else None
    return node


def judged_by(plan: Plan, indexed: Indexed, chosen: list[set[Any] | None],
              visit: Callable[[Any, etree._Element], None]) -> None:
    """Call ``visit(rule, element)`` for each element and the rule of each mode judging it."""
    generation = indexed.generation
    doc = indexed.document
    if generation != plan.generation:  # the paths were forgotten: so are their plans
        plan.paths.clear()
        plan.generation = generation
    paths = plan.paths
    for element, pid in indexed.elements:
        entries = paths.get(pid)
        if entries is None:
            entries = plan.for_path(pid, generation)
        if not entries:
            continue
        claimed = -1  # entries come mode by mode: once a mode is claimed, skip its rest
        for mode, rule, tests, slot in entries:
            if mode == claimed:
                continue
            if slot >= 0:
                hit = chosen[slot]
                if hit is None or element not in hit:
                    continue
            elif tests:
                if len(tests) == 1 and tests[0][0] == 0:  # one test, on the element itself
                    try:
                        if not tests[0][1](element, doc):
                            continue
                    except etree.XPathError:
                        continue
                elif not _holds(element, tests, doc):
                    continue
            claimed = mode
            visit(rule, element)


def _holds(element: etree._Element, tests: tuple[tuple[int, Test], ...],
           doc: Document) -> bool:
    for distance, test in tests:
        node = _ancestor(element, distance)
        try:
            if node is None or not test(node, doc):
                return False
        except etree.XPathError:
            return False
    return True
