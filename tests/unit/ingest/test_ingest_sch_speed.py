"""The speed levers of the validation engine keep the values they replace: the one-pass
document index, the per-document memo of predicate values, the extension functions bound per
expression, and the cheaper checks of hardened parsing."""

from __future__ import annotations

from lxml import etree

from services.ingest.domain import sch_pred, sch_xpath
from services.ingest.domain.sch_functions import CUSTOM, FN, FUNCTIONS
from services.ingest.domain.sch_match import index_document
from services.ingest.domain.xmlsafe import parse_xml

NS = {"a": "urn:a", "b": "urn:b", "fn": FN, "custom": CUSTOM}
DOC = b"""<a:Root xmlns:a="urn:a" xmlns:b="urn:b"><!-- c --><?pi x?>
  <a:Tax><b:ID>S</b:ID><a:Amount>12.50</a:Amount></a:Tax>
  <a:Line><a:Tax><b:ID>Z</b:ID><a:Amount>1.005</a:Amount></a:Tax><a:Line><a:Tax/></a:Line></a:Line>
  <a:Tax><b:ID> s </b:ID></a:Tax>
</a:Root>"""


def test_index_lists_elements_in_document_order_with_their_paths() -> None:
    root = etree.fromstring(DOC)
    indexed = index_document(root)
    assert [e for e, _ in indexed.elements] == list(root.iter("*"))
    doc = indexed.document
    for steps, xpath in [(("{urn:a}Root", "{urn:a}Tax"), "/a:Root/a:Tax"),
                         (("{urn:a}Root", "{urn:a}Line", "{urn:a}Tax"), "/a:Root/a:Line/a:Tax"),
                         (("{urn:a}Root", "{urn:a}Nothing"), "/a:Root/a:Nothing")]:
        assert doc.at(steps) == root.xpath(xpath, namespaces=NS)
    assert doc.by_tag("{urn:a}Tax") == root.xpath("//a:Tax", namespaces=NS)


def test_memoized_predicates_answer_as_without_memo() -> None:
    root = etree.fromstring(DOC)
    doc = index_document(root).document
    for body in ["b:ID = 'S'", "normalize-space(fn:upper-case(b:ID)) = 'S'", "b:ID != 'Z'"]:
        check = sch_pred.predicate([body], NS)
        assert check is not None
        for _ in range(2):  # the second round reads the memo
            for element in root.iter("*"):
                assert check(element, doc) == check(element)
    assert doc.values  # the memo was used


def test_expressions_bind_only_the_functions_they_name() -> None:
    expr = "custom:is-valid-decimal-19-2(a:Amount) and fn:exists(b:ID)"
    named = sch_xpath.bound(expr, NS, False)
    assert named is not None
    assert set(named) == {(CUSTOM, "is-valid-decimal-19-2"), (FN, "exists")}
    assert sch_xpath.bound("count(a:Tax) > 1", NS, False) is None
    root = etree.fromstring(DOC)
    doc = index_document(root).document
    compiled = sch_xpath.compiled(f"boolean({expr})", tuple(sorted(NS.items())), False)
    full = etree.XPath(f"boolean({expr})", namespaces=NS, extensions=FUNCTIONS)
    for element in root.iter("{urn:a}Tax"):
        assert compiled(element, doc) == full(element)


def test_doctype_and_entity_are_refused_in_any_case() -> None:
    for body in (b"<!DOCTYPE a><a/>", b"<!doctype a><a/>", b"<a><!EnTiTy x 'y'></a>"):
        root, problem = parse_xml(body)
        assert root is None
        assert problem is not None
        assert problem.code == "xml-forbidden-dtd"
    root, problem = parse_xml(b"<a><!-- <!DOCTYP --></a>")
    assert root is not None
    assert problem is None


def test_node_count_limit_still_holds_for_bodies_that_can_exceed_it() -> None:
    body = b"<a>" + b"<b/>" * 30 + b"</a>"
    root, problem = parse_xml(body, max_elements=20)
    assert root is None
    assert problem is not None
    assert problem.code == "xml-too-many-elements"
    root, problem = parse_xml(body, max_elements=len(body))
    assert root is not None
    assert problem is None
