"""Every corpus file through the real broker, archive-only: the verdict agrees with MANIFEST.tsv
(issue 3 item 7 end to end), and ``efacture status`` prints every reason of a rejection.

Tenants: one sandbox tenant per seller SIREN (so ``tenant-mismatch`` cannot interfere); a file
without a seller SIREN gets a tenant of its own number group, so two such files sharing an
invoice number do not collide. Files sharing seller SIREN + number (the same invoice as CII,
UBL and Factur-X) are the French DOUBLON: the first archived, each other one rejected with
exactly ``duplicate-invoice`` — the broker's documented rule, counted as agreement.
"""

from __future__ import annotations

import csv
import uuid
from collections import defaultdict
from typing import Any

import pytest

from services.ingest.domain.analysis import analyse
from tests.support.hostile import RawPublisher
from tests.support.system import CORPUS, StatusListener, System

pytestmark = pytest.mark.e2e

ROWS: list[dict[str, str]] = (
    list(csv.DictReader((CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline=""),
                        delimiter="\t"))
    if (CORPUS / "MANIFEST.tsv").exists() else [])


def _plan() -> list[dict[str, Any]]:
    """Per file: its tenant, duplicate key (None when it has no usable number) and body."""
    plan: list[dict[str, Any]] = []
    groups: dict[str | None, int] = defaultdict(int)
    for row in ROWS:
        body = (CORPUS / row["path"]).read_bytes()
        ctype = "application/pdf" if row["path"].lower().endswith(".pdf") else "application/xml"
        inv = analyse(body, ctype, sandbox=True, max_bytes=10 * 1024 * 1024).invoice
        siren = inv.seller.siren if inv else None
        number = inv.number if inv else None
        if siren:
            tenant, key = siren + "00010", (siren, number)
        else:
            index = groups[number]
            groups[number] += 1
            tenant = f"8{index:08d}00010"  # a tenant per occurrence of the number
            key = (tenant[:9], number)
        plan.append({"row": row, "body": body, "ctype": ctype, "tenant": tenant, "key": key,
                     "mid": f"corpus-{uuid.uuid4().hex[:12]}"})
    return plan


@pytest.fixture(scope="module")
def verdicts(system: System) -> dict[str, Any]:
    """Submits the whole corpus and returns ``{submission_id: final event}``."""
    plan = _plan()
    for tenant in sorted({p["tenant"] for p in plan}):
        system.cli("tenant", "add", tenant, "--name", f"C{tenant}", "--subscribed-on",
                   "2026-01-01", "--sandbox")
    listener = StatusListener(system.infra.amqp_url)
    pub = RawPublisher(system.infra.amqp_url)
    try:
        for p in plan:
            pub.publish(p["body"], message_id=p["mid"], content_type=p["ctype"],
                        headers={"tenant": p["tenant"], "transmit": False})
        mids = {p["mid"] for p in plan}

        def decided(ev: list[dict[str, Any]]) -> bool:
            done = {e["submission_id"] for e in ev if e["event"] in ("archived", "rejected")}
            return mids <= done

        events = listener.wait_for(decided, timeout=600)
    finally:
        pub.close()
        listener.close()
    final = {e["submission_id"]: e for e in events if e["event"] in ("archived", "rejected")}
    return {"plan": plan, "final": final}


@pytest.mark.skipif(not ROWS, reason="corpus not available")
def test_every_corpus_verdict_through_the_broker_matches_the_manifest(
    verdicts: dict[str, Any],
) -> None:
    plan, final = verdicts["plan"], verdicts["final"]
    archived_keys: dict[Any, list[str]] = defaultdict(list)
    disagreements = []
    for p in plan:
        event = final[p["mid"]]
        codes = [r["code"] for r in event["reasons"]]
        expected_valid = p["row"]["expected"] == "valid"
        if event["event"] == "archived":
            archived_keys[p["key"]].append(p["row"]["path"])
        doublon = codes == ["duplicate-invoice"]
        agrees = (event["event"] == "archived") == expected_valid or (expected_valid and doublon)
        if not agrees:
            disagreements.append((p["row"]["path"], p["row"]["expected"], event["event"], codes))
    assert disagreements == []
    # A DOUBLON is only ever a repeat of an archived file with the same seller + number.
    for p in plan:
        if [r["code"] for r in final[p["mid"]]["reasons"]] == ["duplicate-invoice"]:
            assert len(archived_keys[p["key"]]) == 1, p["row"]["path"]


@pytest.mark.skipif(not ROWS, reason="corpus not available")
def test_status_prints_every_reason_of_each_rejected_invalid_file(
    system: System, verdicts: dict[str, Any],
) -> None:
    rejected = [p for p in verdicts["plan"] if p["row"]["expected"] != "valid"]
    assert rejected
    for p in rejected:
        event = verdicts["final"][p["mid"]]
        assert event["reasons"], p["row"]["path"]
        out = system.cli("status", p["mid"]).stdout
        flat = "".join(out.split())  # the table may wrap a cell across lines
        for r in event["reasons"]:
            assert r["code"] in flat, (p["row"]["path"], r["code"])
        assert "rejected" in flat
