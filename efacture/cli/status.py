"""``status [ID]``: an invoice's history, or the system at a glance."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click

from efacture.cli.dbconn import connection
from efacture.cli.output import emit, fail, json_option, table
from shared.topology import STATUS


def history(conn: Any, ident: str) -> dict[str, Any] | None:
    """Contract shape: submission_id, invoice_id, tenant, invoice_number, state, events."""
    try:
        as_uuid: uuid.UUID | None = uuid.UUID(ident)
    except ValueError:
        as_uuid = None
    rows = conn.execute(
        "SELECT body FROM core.outbox WHERE exchange = %s AND (submission_id = %s"
        " OR invoice_id = %s) ORDER BY id",
        (STATUS, ident, as_uuid),
    ).fetchall()
    if not rows:
        return None
    events = [json.loads(bytes(r[0])) for r in rows]
    sub_ids = {e["submission_id"] for e in events if e["submission_id"]}
    # Every event of the invoice, even those found by its invoice id only.
    inv_ids = {e["invoice_id"] for e in events if e["invoice_id"]}
    if inv_ids and len(sub_ids) <= 1:
        more = conn.execute(
            "SELECT body FROM core.outbox WHERE exchange = %s AND invoice_id = ANY(%s) ORDER BY id",
            (STATUS, [uuid.UUID(i) for i in inv_ids]),
        ).fetchall()
        seen = {e["event_id"] for e in events}
        events += [e for e in (json.loads(bytes(r[0])) for r in more) if e["event_id"] not in seen]
        events.sort(key=lambda e: e["occurred_at"])
    last = events[-1]
    number = next((e["invoice_number"] for e in reversed(events) if e["invoice_number"]), None)
    return {
        "submission_id": last["submission_id"], "invoice_id": next(iter(inv_ids), None),
        "tenant": last["tenant"], "invoice_number": number, "state": last["event"],
        "events": events,
    }


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("ident", metavar="ID", required=False)
    @json_option
    def status(ident: str | None, as_json: bool) -> None:
        """An invoice's history by submission id or invoice id; without ID, the system view."""
        if ident is None:
            from efacture.cli.overview import overview

            overview(as_json)
            return
        with connection() as conn:
            h = history(conn, ident)
        if h is None:
            fail(f"no submission or invoice is known by the id {ident}.")

        def human() -> None:
            click.echo(f"submission {h['submission_id']}  invoice {h['invoice_id']}  "
                       f"tenant {h['tenant']}  number {h['invoice_number']}  state {h['state']}")
            table(None, ["occurred_at", "event", "code", "reasons / detail"], [
                [e["occurred_at"], e["event"], e["lifecycle_code"] or "",
                 "; ".join(f"{r['code']}: {r['message']}" for r in e["reasons"])
                 or json.dumps(e["detail"], ensure_ascii=False)]
                for e in h["events"]])

        emit(h, as_json, human)
