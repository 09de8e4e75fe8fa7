"""Issue 10 property 3, ingest side: implausible issue dates are refused
(``implausible-issue-date``, against an injected clock), and a slow document is cut off by the
per-document wall-clock limit (``analysis-timeout``) without stalling the others.

The slow document is made slow by an injected analyser (``EFACTURE_ANALYSIS_FUNCTION``) that
never returns on a marker, the way a parser stuck in C code would: only killing its worker
process stops it. The archive side (a year-9999 invoice among good ones in one batch) is
``tests/security/test_archive_poison.py``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from efacture.cli.submit import Submitter
from services.ingest.domain.admission import admission_reasons
from services.ingest.domain.analysis import Analysis, analyse
from services.ingest.domain.dates import issue_date_reasons, latest
from tests.support import hostile
from tests.support import infra as infra_mod
from tests.support.hostile import seller_siret
from tests.support.system import REPO, StatusListener, System

pytestmark = pytest.mark.security

TODAY = date(2026, 6, 15)  # the injected clock: no test depends on the real date
ISSUE = b'<udt:DateTimeString format="102">20171118</udt:DateTimeString>'
SLOW_MARK = b"<!-- efacture-test: this document never finishes analysing -->"
TIMEOUT = 3  # seconds, the system's per-document limit in this module
A = f"9{random.randrange(10**8):08d}00010"
B = f"9{random.randrange(10**8):08d}00029"


def slow_analyse(body: bytes, content_type: str | None, *, sandbox: bool,
                 max_bytes: int) -> Analysis:
    """The real analyser, except that a document carrying ``SLOW_MARK`` never finishes."""
    if SLOW_MARK in body:
        while True:
            time.sleep(60)
    return analyse(body, content_type, sandbox=sandbox, max_bytes=max_bytes)


def dated(number: str, yyyymmdd: str, tenant: str = A) -> bytes:
    body = seller_siret(number, tenant)
    assert body.count(ISSUE) == 1
    return body.replace(ISSUE, ISSUE.replace(b"20171118", yyyymmdd.encode()))


def _codes(body: bytes, today: date = TODAY) -> list[str]:
    analysis = analyse(body, "application/xml", sandbox=True, max_bytes=10 * 1024 * 1024)
    errors, _ = admission_reasons(analysis, tenant_siret=A, sandbox=True, transmit=False,
                                  headers={}, today=today)
    return [e.code for e in (*analysis.errors, *errors)]


# --- the rule, with an injected clock ------------------------------------------------------

@pytest.mark.parametrize(("issue", "ok"), [
    (date(1899, 12, 31), False), (date(1900, 1, 1), True), (date(1, 1, 1), False),
    (TODAY, True), (date(2027, 6, 15), True), (date(2027, 6, 16), False),
    (date(9999, 12, 31), False)])
def test_issue_date_bounds_against_the_injected_clock(issue: date, ok: bool) -> None:
    codes = [r.code for r in issue_date_reasons(issue, TODAY, "invoice/issue-date")]
    assert codes == ([] if ok else ["implausible-issue-date"])


def test_a_year_ahead_of_a_leap_day_is_the_28th_of_february() -> None:
    assert latest(date(2028, 2, 29)) == date(2029, 2, 28)
    assert latest(date.max) == date.max


@pytest.mark.parametrize("yyyymmdd", ["99991231", "00010101", "18991231", "20270616"])
def test_an_invoice_with_an_implausible_issue_date_is_refused(yyyymmdd: str) -> None:
    assert _codes(dated("D-1", yyyymmdd)) == ["implausible-issue-date"]


def test_the_clock_decides_not_todays_date() -> None:
    body = dated("D-2", "20270616")
    assert _codes(body, today=date(2026, 6, 16)) == []
    assert _codes(body, today=date(2026, 6, 15)) == ["implausible-issue-date"]


def test_a_plain_pdf_with_an_implausible_issue_date_header_is_refused() -> None:
    analysis = analyse(hostile.plain_pdf(), "application/pdf", sandbox=True, max_bytes=10**7)
    headers = {"invoice-number": "P-1", "recipient-id": "X", "issue-date": "9999-01-01"}
    errors, _ = admission_reasons(analysis, tenant_siret=A, sandbox=True, transmit=False,
                                  headers=headers, today=TODAY)
    assert [e.code for e in errors] == ["implausible-issue-date"]
    errors, _ = admission_reasons(analysis, tenant_siret=A, sandbox=True, transmit=False,
                                  headers={**headers, "issue-date": "2026-01-01"}, today=TODAY)
    assert errors == ()


# --- through the broker ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def system(infra: infra_mod.Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One analysis worker (the hardest case: nobody else to take the next document), a
    short limit, and the slow analyser injected."""
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-data"),
                  EFACTURE_ANALYSIS_FUNCTION="tests.security.test_ingest_poison:slow_analyse",
                  EFACTURE_ANALYSIS_TIMEOUT_SECONDS=str(TIMEOUT),
                  EFACTURE_ANALYSIS_WORKERS="1", PYTHONPATH=str(REPO))
    sys_.start()
    try:
        for siret in (A, B):
            sys_.cli("tenant", "add", siret, "--name", f"T{siret}", "--subscribed-on",
                     "2026-01-01", "--sandbox")
        yield sys_
    finally:
        sys_.stop()


def _publish(system: System, items: list[tuple[str, str, bytes, dict[str, Any]]]) -> None:
    sub = Submitter(system.infra.amqp_url)
    try:
        for tenant, mid, body, headers in items:
            ctype = "application/pdf" if body.startswith(b"%PDF") else "application/xml"
            sub.publish(body, tenant=tenant, message_id=mid, content_type=ctype,
                        transmit=False, headers=headers)
    finally:
        sub.close()


def _verdicts(listener: StatusListener, mids: list[str]) -> dict[str, dict[str, Any]]:
    def done(ev: list[dict[str, Any]]) -> bool:
        return set(mids) <= {e["submission_id"] for e in ev
                             if e["event"] in ("archived", "rejected")}
    events = listener.wait_for(done, timeout=180)
    return {e["submission_id"]: e for e in events
            if e["submission_id"] in mids and e["event"] in ("archived", "rejected")}


def _codes_of(event: dict[str, Any]) -> list[str]:
    return [r["code"] for r in event["reasons"]]


def test_a_stuck_document_is_cut_off_and_the_next_tenants_invoices_go_through(
    system: System, listener: StatusListener,
) -> None:
    slow, good, after = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("slow", "good", "after"))
    _publish(system, [
        (A, slow, seller_siret(f"S-{slow[-8:]}", A) + SLOW_MARK, {}),
        (B, good, seller_siret(f"G-{good[-8:]}", B), {}),
    ])
    got = _verdicts(listener, [slow, good])
    assert got[slow]["event"] == "rejected"
    assert _codes_of(got[slow]) == ["analysis-timeout"]
    assert f"{TIMEOUT} seconds" in got[slow]["reasons"][0]["message"]
    assert got[good]["event"] == "archived"
    # The replacement worker serves the next document; nothing was redelivered or requeued.
    _publish(system, [(A, after, seller_siret(f"N-{after[-8:]}", A), {})])
    assert _verdicts(listener, [after])[after]["event"] == "archived"
    assert [e for e in listener.snapshot() if e["submission_id"] == slow
            and e["event"] in ("archived", "rejected")] == [got[slow]]


def test_year_9999_and_0001_are_refused_and_the_rest_of_the_burst_is_archived(
    system: System, listener: StatusListener,
) -> None:
    mids = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("y9999", "y0001", "pdf9999", "ok1", "ok2")}
    _publish(system, [
        (A, mids["ok1"], seller_siret(f"K-{mids['ok1'][-8:]}", A), {}),
        (A, mids["y9999"], dated(f"Y-{mids['y9999'][-8:]}", "99991231"), {}),
        (B, mids["y0001"], dated(f"Z-{mids['y0001'][-8:]}", "00010101", B), {}),
        (B, mids["pdf9999"], hostile.plain_pdf(),
         {"invoice-number": "P-9999", "recipient-id": "X", "issue-date": "9999-12-31"}),
        (B, mids["ok2"], seller_siret(f"L-{mids['ok2'][-8:]}", B), {}),
    ])
    got = _verdicts(listener, list(mids.values()))
    for bad in ("y9999", "y0001", "pdf9999"):
        assert got[mids[bad]]["event"] == "rejected", bad
        assert _codes_of(got[mids[bad]]) == ["implausible-issue-date"], bad
    for ok in ("ok1", "ok2"):
        assert got[mids[ok]]["event"] == "archived", ok
    listed = {i["submission_id"] for t in (A, B)
              for i in system.cli_json("invoice", "list", "--tenant", t)}
    assert {mids["ok1"], mids["ok2"]} <= listed
    assert not {mids[b] for b in ("y9999", "y0001", "pdf9999")} & listed
