"""The exactly-once audit every drill ends with, read from the outside: the database, the
blob store, the PA simulator's own counters and ``efacture usage reconcile``.

After a drill: every submission is either archived and transmitted exactly once or rejected
with a reason; catalogue count = metering count = the simulator's distinct flows, each
trackingId held once; no blob without its catalogue row and no row without its blob;
no dead letter; the counters reconcile with the catalogue.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import psycopg

from shared.vault.blob_factory import blob_store_for_env
from tests.support.drill import Load, Sim
from tests.support.system import System

_EVENTS = (
    "SELECT submission_id, convert_from(body, 'UTF8')::jsonb->>'event',"
    " convert_from(body, 'UTF8')::jsonb->'reasons', count(*)"
    " FROM core.outbox WHERE exchange = 'efacture.status' AND submission_id = ANY(%s)"
    " GROUP BY 1, 2, 3"
)
_COUNTED = ("received", "archived", "transmitted", "rejected", "transmission_failed")


def _one(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def progress(conn: psycopg.Connection[Any], sids: list[str]) -> dict[str, int]:
    """Where the pipeline stands for ``sids`` (every count the drill waits on)."""
    return {
        "decided": _one(conn, "SELECT count(*) FROM ingest.submission WHERE message_id = ANY(%s)",
                        sids),
        "accepted": _one(conn, "SELECT count(*) FROM ingest.submission WHERE message_id = ANY(%s)"
                               " AND state = 'accepted'", sids),
        "archived": _one(conn, "SELECT count(*) FROM archive.invoice"),
        "counted": _one(conn, "SELECT count(*) FROM metering.counted"),
        "settled": _one(conn, "SELECT count(*) FROM transmit.transmission"
                              " WHERE state IN ('accepted', 'rejected', 'failed')"),
        "failed": _one(conn, "SELECT count(*) FROM transmit.transmission WHERE state = 'failed'"),
        "pending_outbox": _one(conn, "SELECT count(*) FROM core.outbox WHERE published_at IS NULL"),
    }


def is_settled(p: dict[str, int], expected: int) -> bool:
    return (p["decided"] == expected and p["archived"] == p["accepted"] == p["counted"]
            == p["settled"] and p["pending_outbox"] == 0)


def wait_settled(system: System, load: Load, timeout: float = 600) -> dict[str, int]:
    """Poll until every submission is decided, archived, counted and its transmission
    settled, with nothing left in the outbox; survives a database that is restarting."""
    sids = load.submissions
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(system.infra.database_url, autocommit=True,
                                 connect_timeout=5) as conn:
                last = progress(conn, sids)
        except psycopg.OperationalError:
            time.sleep(1)
            continue
        if is_settled(last, len(sids)):
            return last
        time.sleep(1)
    raise AssertionError(f"the drill did not settle: {last} (expected {len(sids)} submissions)")


def audit(system: System, sim: Sim, load: Load) -> dict[str, int]:
    """Assert exactly once end to end; returns the counts it checked."""
    sids = load.submissions
    with psycopg.connect(system.infra.database_url, autocommit=True) as conn:
        states: dict[str, str] = dict(conn.execute(
            "SELECT message_id, state FROM ingest.submission WHERE message_id = ANY(%s)",
            (sids,)).fetchall())
        events: dict[str, dict[str, int]] = defaultdict(dict)
        codes: dict[str, list[str]] = {}
        for sid, name, reasons, n in conn.execute(_EVENTS, (sids,)).fetchall():
            if name in _COUNTED:
                events[sid][name] = events[sid].get(name, 0) + n
            if name == "rejected":
                codes[sid] = [r["code"] for r in reasons]
        catalogue: dict[str, str] = dict(conn.execute(
            "SELECT invoice_id::text, blob_key FROM archive.invoice").fetchall())
        by_submission: dict[str, int] = dict(conn.execute(
            "SELECT submission_id, count(*) FROM archive.invoice GROUP BY 1").fetchall())
        counted = _one(conn, "SELECT count(*) FROM metering.counted")
        leaves = _one(conn, "SELECT count(*) FROM archive.log_leaf")
        transmitted: dict[str, str] = dict(conn.execute(
            "SELECT invoice_id::text, state FROM transmit.transmission").fetchall())
    assert set(states) == set(sids), f"{len(set(sids) - set(states))} submission(s) undecided"
    winners: dict[str, list[str]] = defaultdict(list)
    for sid in sids:
        if states[sid] == "accepted":
            winners[load.number_of[sid]].append(sid)
            assert by_submission.get(sid) == 1, f"{sid} archived {by_submission.get(sid)} times"
            assert events[sid] == {"received": 1, "archived": 1, "transmitted": 1}, (
                f"{sid}: {events[sid]}")
        else:
            assert events[sid] == {"rejected": 1}, f"rejected {sid}: {events[sid]}"
            assert codes[sid] == ["duplicate-invoice"], f"{sid} rejected for {codes[sid]}"
    assert {n: len(w) for n, w in winners.items()} == dict.fromkeys(load.numbers, 1), (
        "an invoice number was archived other than once")
    stats = sim.stats()
    expected = len(load.numbers)
    assert len(catalogue) == counted == stats["flows"] == leaves == expected, (
        f"catalogue {len(catalogue)}, metering {counted}, flows {stats['flows']}, "
        f"leaves {leaves}, invoices {expected}")
    assert set(stats["by_tracking_id"]) == set(catalogue)
    assert set(stats["by_tracking_id"].values()) == {1}
    assert transmitted == dict.fromkeys(catalogue, "accepted"), "a transmission is unsettled"
    blobs = set(blob_store_for_env(system.env).keys())
    assert blobs == set(catalogue.values()), (
        f"{len(blobs - set(catalogue.values()))} blob(s) without a row, "
        f"{len(set(catalogue.values()) - blobs)} row(s) without a blob")
    reconcile = system.cli("usage", "reconcile", "--json", check=False)
    assert reconcile.returncode == 0, f"usage reconcile: {reconcile.stdout} {reconcile.stderr}"
    assert system.cli_json("dlq", "list") == []
    return {"catalogue": len(catalogue), "metering": counted, "flows": stats["flows"],
            "blobs": len(blobs), "rejected": len(sids) - expected}
