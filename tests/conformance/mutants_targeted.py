"""Targeted mutants: a valid base with one break aimed at named official rules.

The mutants of :mod:`mutants` break rule families broadly; these aim at covered rules that no
other document makes the oracle report (so that "fires exactly when the oracle's fires" is
shown for the present case too). A :class:`Target` names its family, the rule ids it must make
the oracle report, the bases it applies to, and its edits for CII and for UBL bases:
``(xpath, action)`` applied in order, each to the first node its xpath selects. The actions
are those of :mod:`mutants` plus ``after:XML`` / ``before:XML`` / ``append:XML`` (insert
the fragment after, before or as the last child of the node; prefixes ``rsm ram udt qdt cbc
cac`` are bound), ``text+:S`` (append ``S`` to the text) and ``count:N`` (repeat the node
until there are ``N``).

Contract: :func:`targeted` yields every target on every base it names, or raises
:class:`LookupError` when an edit selects nothing (a target that silently stops applying
would stop proving anything).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from tests.conformance.mutants import BASES, EXTRA_BASES, NS, Mutant, _apply, base_xml

Edit = tuple[str, str]
_DECL = " ".join(f'xmlns:{p}="{u}"' for p, u in
                 {**NS, "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}
                 .items())

# Base labels (see mutants.BASES / EXTRA_BASES).
FR_CII = "factur-x/akretion__invoice_EN16931.pdf"
FR_UBL = "ubl/akretion__ubl-21-en16931.xml"
CEN_UBL = "ubl/cen__ubl-tc434-example1.xml"


@dataclass(frozen=True)
class Target:
    """One targeted break: ``rules`` are the ids the oracle must report on each base."""

    family: str
    name: str
    rules: frozenset[str]
    bases: tuple[str, ...]
    cii: tuple[Edit, ...] = ()
    ubl: tuple[Edit, ...] = ()


def _fragment(xml: str) -> list[etree._Element]:
    wrapper = etree.fromstring(f"<w {_DECL}>{xml}</w>")
    return list(wrapper)


def edit(node: etree._Element, action: str) -> bool:
    """Apply ``action`` to ``node`` (False when it cannot apply)."""
    verb, _, arg = action.partition(":")
    if verb in ("after", "before", "append"):
        for new in reversed(_fragment(arg)) if verb == "after" else _fragment(arg):
            new.tail = node.tail if verb != "append" else None
            (node.addnext if verb == "after" else node.addprevious if verb == "before"
             else node.append)(new)
        return True
    if verb == "text+":
        node.text = (node.text or "") + arg
        return True
    if verb == "count":
        parent = node.getparent()
        if parent is None:
            return False
        while len(parent.findall(node.tag)) < int(arg):
            node.addnext(copy.deepcopy(node))
        return True
    return _apply(node, action)


def _bases() -> dict[str, tuple[str, tuple[bytes, ...]]]:
    found: dict[str, tuple[str, tuple[bytes, ...]]] = {p: (p, f) for p, f in BASES}
    found.update({label: (path, fix) for label, path, fix, _ in EXTRA_BASES})
    return found


def apply_target(target: Target, label: str, xml: bytes) -> Mutant:
    """``target`` applied to the base ``xml`` (labelled ``label``)."""
    cii = b"CrossIndustryInvoice" in xml[:400]
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False))
    edits = target.cii if cii else target.ubl
    if not edits:
        raise LookupError(f"{target.name}: no {'CII' if cii else 'UBL'} edit for {label}")
    for where, action in edits:
        nodes = root.xpath(where, namespaces=NS)
        if not nodes or not edit(nodes[0], action):
            raise LookupError(f"{target.name} on {label}: {where} ({action}) does not apply")
    return Mutant(label, target.family, target.name,
                  etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def targeted(corpus: Path, targets: tuple[Target, ...]) -> Iterator[tuple[Target, Mutant]]:
    """Every target of ``targets`` on every base it names."""
    bases = _bases()
    xml: dict[str, bytes] = {}
    for target in targets:
        for label in target.bases:
            if label not in xml:
                path, fix = bases[label]
                xml[label] = base_xml(corpus, path, fix)
            yield target, apply_target(target, label, xml[label])
