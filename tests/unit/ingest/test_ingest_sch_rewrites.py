"""The cheaper forms the rule engine runs (sch_xpath rewrites, sch_pred predicates) give the
same values as the expressions of the tables, on a document made to tell them apart."""

from __future__ import annotations

import pytest
from lxml import etree

from services.ingest.domain import sch_pred, sch_xpath
from services.ingest.domain.sch_build import _steps_2
from services.ingest.domain.sch_functions import FN, FUNCTIONS, XS
from services.ingest.domain.sch_match import index_document

NS = {"a": "urn:a", "b": "urn:b", "fn": FN}
DOC = b"""<a:Root xmlns:a="urn:a" xmlns:b="urn:b">
  <a:Tax><b:ID> s </b:ID><a:Scheme><b:ID>vAt</b:ID></a:Scheme><a:Flag>1</a:Flag></a:Tax>
  <a:Tax><b:ID>E</b:ID><a:Scheme><b:ID>V\xc3\x84T</b:ID></a:Scheme><a:Flag> false </a:Flag></a:Tax>
  <a:Line id="7"><a:Tax><b:ID>S</b:ID></a:Tax><a:Note/></a:Line>
  <a:Line><a:Tax><b:ID>Z</b:ID></a:Tax></a:Line>
</a:Root>"""

EXPRESSIONS = [
    "fn:exists(//a:Tax[b:ID = 'S'])",
    "fn:exists(//a:Tax[b:ID = 'Q'])",
    "fn:empty(a:Line/a:Note)",
    "count(//a:Tax[normalize-space(fn:upper-case(a:Scheme/b:ID))='VAT'])",
    "count(//a:Tax[fn:upper-case(a:Scheme/b:ID) = 'VAT'])",
    "fn:any-true(//a:Flag)",
    "fn:any-false(a:Tax/a:Flag)",
    "count(/a:Root/a:Line/a:Tax) + count(//a:Line[1]/a:Tax)",
    "count(//a:Line[@id]/a:Tax | //a:Tax[b:ID='E'])",
    "string(/a:Root/a:Line[2]/a:Tax/b:ID)",
    "fn:exists(/a:Root/a:Line/@id)",
]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_rewritten_expression_has_the_original_value(expr: str) -> None:
    root = etree.fromstring(DOC)
    original = etree.XPath(expr, namespaces=NS, extensions=FUNCTIONS)(root)
    compiled = sch_xpath.compiled(expr, tuple(sorted(NS.items())), False)
    assert compiled(root, index_document(root).document) == original
    assert "$__p" in compiled.xpath.path or "//" not in expr


PREDICATES = [
    "b:ID = 'S'", "b:ID != 'S'", "normalize-space(b:ID) = 's'",
    "normalize-space(fn:upper-case(a:Scheme/b:ID))='VAT'", "fn:upper-case(a:Scheme/b:ID) = 'VAT'",
    "fn:any-true(a:Flag)", "fn:any-false(a:Flag)", "a:Scheme", "not(a:Scheme)", "@id",
]


@pytest.mark.parametrize("body", PREDICATES)
def test_python_predicate_agrees_with_xpath(body: str) -> None:
    root = etree.fromstring(DOC)
    python = sch_pred.predicate([body], NS)
    assert python is not None
    xpath = etree.XPath(f"boolean({body})", namespaces=NS, extensions=FUNCTIONS)
    for element in root.iter("*"):
        assert python(element) == xpath(element), etree.tostring(element)


def test_unsupported_predicates_stay_xpath() -> None:
    assert sch_pred.predicate(["@currencyID = ../b:Code"], NS) is None
    assert sch_pred.predicate(["1"], NS) is None


def test_xpath2_steps_are_spelled_in_xpath1() -> None:
    assert _steps_2(".[fn:upper-case(a:T) = 'VAT']/a:C") \
        == "self::node()[fn:upper-case(a:T) = 'VAT']/a:C"
    assert _steps_2("x[a:S/(normalize-space(b:ID) = 'VAT')]") \
        == "x[a:S[normalize-space(b:ID) = 'VAT']]"
    assert _steps_2("a:S/upper-case(b:ID)='VAT'") == "upper-case(a:S/b:ID)='VAT'"
    assert _steps_2("matches(., '.[0-9]')") == "matches(., '.[0-9]')"
    assert _steps_2("x[some $c in tokenize('30 58', '\\s') satisfies normalize-space(a:T) = $c]") \
        == "x[(normalize-space(a:T) = '30' or normalize-space(a:T) = '58')]"


NS_XS = {**NS, "xs": XS}
DECIMAL_CASTS = [
    ("xs:decimal(count(a:Line)) * xs:decimal(100)", True),
    # The outer cast reads an arithmetic expression: kept; the inner ones go.
    ("xs:decimal(round(xs:decimal(sum(a:Line/@id)) * xs:decimal(100)) div xs:decimal(100))",
     False),
    ("xs:decimal(round(xs:decimal(sum(a:Line/@id)) * xs:decimal(100)))", True),
    ("xs:decimal(0.01) * xs:decimal(string-length(a:Tax/b:ID))", True),
    ("xs:decimal(a:Line/@id) + xs:decimal(floor(1.5))", False),  # a path's cast is kept
]


@pytest.mark.parametrize(("expr", "gone"), DECIMAL_CASTS)
def test_casts_of_numbers_are_dropped_with_the_same_value(expr: str, gone: bool) -> None:
    root = etree.fromstring(DOC)
    original = etree.XPath(expr, namespaces=NS_XS, extensions=FUNCTIONS)(root)
    compiled = sch_xpath.compiled(expr, tuple(sorted(NS_XS.items())), False)
    assert compiled(root, index_document(root).document) == original
    assert ("xs:decimal" not in compiled.xpath.path) == gone
