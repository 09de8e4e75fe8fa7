"""The XPath 2.0 tier (sch_xpath2 with elementpath): official assertions lxml cannot run keep
their XPath 2.0 meaning, are judged by the engine's matching, and cost nothing on documents
where none of them has a node to judge."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from services.ingest.domain import sch_engine, sch_rules, sch_xpath2
from services.ingest.domain.coverage import hand_written
from services.ingest.domain.sch_build import _if_string, distribute, guard, quantified

NS = (("a", "urn:a"),)
DOC = b"""<a:Root xmlns:a="urn:a"><a:Amount>0.1</a:Amount><a:Amount>0.2</a:Amount>
<a:Total>0.3</a:Total><a:Code> 380 </a:Code><a:Line id="1"/><a:Line id="2"/></a:Root>"""

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"


def _value(expr: str, node: str = "/*") -> Any:
    root = etree.fromstring(DOC)
    tree = sch_xpath2.tree_of(object(), root)
    context = root.getroottree().xpath(node)[0]
    return sch_xpath2.evaluate(sch_xpath2.compiled(expr, NS, False), tree, context, {})


@pytest.mark.parametrize(("expr", "expected"), [
    # Decimal arithmetic where the official test casts (0.1 + 0.2 = 0.3 exactly) …
    ("sum(a:Amount/xs:decimal(.)) = xs:decimal(a:Total)", True),
    # … and xs:double for untyped values, as the non-schema-aware official run.
    ("sum(a:Amount) = xs:double(a:Total)", False),
    ("a:Code = ' 380 '", True),  # untypedAtomic against a string: compared as strings
    ("every $l in a:Line satisfies $l/@id > 0", True),
    ("some $l in a:Line satisfies $l/@id = 3", False),
    ("sum(for $l in a:Line return xs:decimal($l/@id))", 3),
    ("if (a:Line) then 'yes' else 'no'", "yes"),
    # Each clause of a multi-clause for/some/every is read from the focus, not from the
    # nodes of the clause before it (sch_xpath2._nested).
    ("for $l in a:Line, $c in a:Code return string($c)", [" 380 ", " 380 "]),
    ("some $l in a:Line, $t in a:Total satisfies $t = 0.3", True),
    ("every $l in a:Line, $a in a:Amount satisfies $a < 1", True),
    ("normalize-space(a:Code) = ('381', '380')", True),
])
def test_xpath2_semantics(expr: str, expected: Any) -> None:
    assert _value(expr) == expected


def test_message_text_joins_the_items_string_values() -> None:
    assert sch_xpath2.text(_value("a:Line/@id")) == "1 2"
    assert sch_xpath2.text(_value("count(a:Line) = 2")) == "true"


def test_custom_functions_are_registered_for_the_french_sets() -> None:
    ns = tuple(sorted(sch_rules.NAMESPACES["BR-FR-CII"].items()))
    doc = (f'<rsm:CrossIndustryInvoice xmlns:rsm="{RSM}" xmlns:ram="{RAM}">'
           "<rsm:ExchangedDocumentContext><ram:BusinessProcessSpecifiedDocumentContextParameter>"
           "<ram:ID>S9</ram:ID></ram:BusinessProcessSpecifiedDocumentContextParameter>"
           "</rsm:ExchangedDocumentContext></rsm:CrossIndustryInvoice>")
    root = etree.fromstring(doc)
    tree = sch_xpath2.tree_of(object(), root)
    token = sch_xpath2.compiled("custom:isSpecialContractBD(/rsm:CrossIndustryInvoice)", ns, False)
    assert sch_xpath2.holds(token, tree, root, {}) is True
    token = sch_xpath2.compiled("custom:isSpecialContractMV(/rsm:CrossIndustryInvoice)", ns, False)
    assert sch_xpath2.holds(token, tree, root, {}) is False


def test_the_node_tree_is_built_once_per_document_key() -> None:
    root = etree.fromstring(DOC)
    key = object()
    first = sch_xpath2.tree_of(key, root)
    assert sch_xpath2.tree_of(key, root) is first
    assert sch_xpath2.tree_of(object(), root) is not first


def test_parse_failures_are_reported_for_the_build() -> None:
    assert sch_xpath2.probe("for $x in (1, 2) return $x", {}, False) is None
    assert sch_xpath2.probe("for $x in", {}, False) is not None


def test_union_match_patterns_are_distributed() -> None:
    assert distribute("(a:X|a:Y)/a:Z[p]") == "a:X/a:Z[p] | a:Y/a:Z[p]"
    assert distribute("(a:X | a:Y)[(a:C | a:D) = ('1','2')]/a:Z") == (
        "a:X[((a:C | a:D) = '1' or (a:C | a:D) = '2')]/a:Z"
        " | a:Y[((a:C | a:D) = '1' or (a:C | a:D) = '2')]/a:Z")
    assert distribute("a:X | a:Y[(p)]") == "a:X | a:Y[(p)]"


def test_hand_written_rules_stay_out_of_the_tier() -> None:
    for name, templates in sch_rules.RULES.items():
        for template in templates:
            for rule, *_ in template[5][1] if template[5] else ():
                assert not hand_written(name, rule), (name, rule)


def _extended(parent_ids: tuple[str, ...]) -> etree._Element:
    lines = "".join(
        f"<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument>"
        f"<ram:LineID>{n}</ram:LineID>"
        + (f"<ram:ParentLineID>{parent}</ram:ParentLineID>" if parent else "")
        + "</ram:AssociatedDocumentLineDocument></ram:IncludedSupplyChainTradeLineItem>"
        for n, parent in enumerate(parent_ids, start=1))
    return etree.fromstring(
        f'<rsm:CrossIndustryInvoice xmlns:rsm="{RSM}" xmlns:ram="{RAM}">'
        f"<rsm:SupplyChainTradeTransaction>{lines}</rsm:SupplyChainTradeTransaction>"
        "</rsm:CrossIndustryInvoice>")


def test_an_xpath2_rule_fires_with_its_location() -> None:
    # BR-FXEXT-11 (``some … satisfies``): a parent line id must name a line of the invoice.
    hits = [h for h in sch_engine.run("FX-EXTENDED", _extended(("", "1", "9")))
            if h.rule == "BR-FXEXT-11"]
    assert [h.location for h in hits] == [
        "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
        "/ram:IncludedSupplyChainTradeLineItem[3]"]
    assert hits[0].message


def test_no_node_tree_when_no_xpath2_rule_has_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("the XPath 2.0 tier was entered")

    monkeypatch.setattr(sch_xpath2, "tree_of", refuse)
    # FX-BASIC's XPath 2.0 rules judge L/M breakdowns and GROUP lines: none here.
    sch_engine.run("FX-BASIC", _extended(("", "")))


def test_simple_quantified_expressions_have_an_exact_xpath1_form() -> None:
    assert quantified("every $id in ram:GlobalID satisfies $id/@schemeID") == (
        "not(ram:GlobalID[not(@schemeID)])")
    assert quantified("some $i in a:X satisfies $i/@s = '0231'") == "boolean(a:X[@s = '0231'])"
    assert quantified("every $t in cbc:C satisfies exists(//cac:T/cbc:A[@currencyID=$t])") == (
        "not(cbc:C[not(. = //cac:T/cbc:A/@currencyID)])")
    assert quantified("every $r in a:R satisfies a:B = $r") is None  # reads the focus


def test_if_lets_read_as_strings_keep_their_value() -> None:
    let = _if_string("if (contains($v, '#')) then substring-before($v, '#') else $v")
    xpath = etree.XPath(let)
    assert xpath(etree.fromstring(b"<r/>"), v="B2B#x") == "B2B"
    assert xpath(etree.fromstring(b"<r/>"), v="B2C") == "B2C"


def test_guards_hold_only_where_the_assertion_does() -> None:
    from pathlib import Path

    ns = {"a": "urn:a", "custom": "http://www.example.org/custom",
          "xs": "http://www.w3.org/2001/XMLSchema"}
    where = Path("x.xslt")
    assert guard("not(custom:isSpecialContractBD(/a:R)) or (x = 1)", where, ns, {}) == (
        ((), "not(custom:isSpecialContractBD(/a:R))"),)
    assert guard("every $x in a:Line/xs:decimal(.) satisfies $x > 1", where, ns, {}) == (
        ((), "not(a:Line)"),)
    assert guard("sum(a:X) = 3 or $v", where, ns, {}) == ()  # arithmetic, a variable


def _breakdown(line_total: str) -> etree._Element:
    tax = ("<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S"
           "</ram:CategoryCode><ram:RateApplicablePercent>20</ram:RateApplicablePercent>"
           "</ram:ApplicableTradeTax>")
    return etree.fromstring(
        f'<rsm:CrossIndustryInvoice xmlns:rsm="{RSM}" xmlns:ram="{RAM}">'
        "<rsm:SupplyChainTradeTransaction><ram:IncludedSupplyChainTradeLineItem>"
        f"<ram:SpecifiedLineTradeSettlement>{tax}"
        "<ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>"
        f"{line_total}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>"
        "</ram:SpecifiedLineTradeSettlement></ram:IncludedSupplyChainTradeLineItem>"
        "<ram:ApplicableHeaderTradeSettlement><ram:ApplicableTradeTax><ram:CalculatedAmount>20.00"
        "</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode><ram:BasisAmount>100.00"
        "</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode><ram:RateApplicablePercent>20"
        "</ram:RateApplicablePercent></ram:ApplicableTradeTax></ram:ApplicableHeaderTradeSettlement>"
        "</rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>")


def test_total_checks_in_cents_are_decided_by_their_guard(monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    built = []
    real = sch_xpath2.tree_of

    def counting(key: object, root: etree._Element) -> Any:
        built.append(key)
        return real(key, root)

    monkeypatch.setattr(sch_xpath2, "tree_of", counting)
    # Amounts in cents: the double computation decides BR-FXEXT-S08b (it holds: no tree) …
    hits = sch_engine.run("FX-EXTENDED", _breakdown("100.00"))
    assert not built
    assert "BR-FXEXT-S08b" not in {h.rule for h in hits}
    # … a sum off by 0.01 more than the tolerance fails the guard: elementpath decides.
    hits = sch_engine.run("FX-EXTENDED", _breakdown("99.98"))
    assert built
    assert "BR-FXEXT-S08b" in {h.rule for h in hits}
    # An amount with three decimals: doubles may round otherwise, so elementpath decides.
    built.clear()
    sch_engine.run("FX-EXTENDED", _breakdown("100.004"))
    assert built
