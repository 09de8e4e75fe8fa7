"""``status [ID]``: an invoice's history, or the system at a glance."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click

from efacture.cli.dbconn import connection
from efacture.cli.output import emit, fail, json_option, printable, table
from shared.topology import STATUS


class AmbiguousId(Exception):
    """The id names submissions of more than one tenant: the caller must choose one."""

    def __init__(self, ident: str, tenants: list[str]) -> None:
        super().__init__(ident, tenants)
        self.ident, self.tenants = ident, tenants


_BY_ID = ("SELECT body FROM core.outbox WHERE exchange = %s"
          " AND (submission_id = %s OR invoice_id = %s)"
          " AND (%s::text IS NULL OR tenant = %s) ORDER BY id")
_BY_INVOICES = ("SELECT body FROM core.outbox WHERE exchange = %s AND invoice_id = ANY(%s)"
                " AND tenant = %s ORDER BY id")


def _events(conn: Any, query: str, *args: Any) -> list[dict[str, Any]]:
    return [json.loads(bytes(r[0])) for r in conn.execute(query, (STATUS, *args)).fetchall()]


def history(conn: Any, ident: str, tenant: str | None = None) -> dict[str, Any] | None:
    """Contract shape: submission_id, invoice_id, tenant, invoice_number, state, events.

    Only ``tenant``'s events when given. Without it, an id that two tenants used (each
    tenant has its own message_id space) raises :class:`AmbiguousId`: one tenant's history is
    never shown mixed with, or instead of, another's.
    """
    try:
        as_uuid: uuid.UUID | None = uuid.UUID(ident)
    except ValueError:
        as_uuid = None
    events = _events(conn, _BY_ID, ident, as_uuid, tenant, tenant)
    if not events:
        return None
    owners = sorted({e["tenant"] for e in events})
    if len(owners) > 1:
        raise AmbiguousId(ident, owners)
    sub_ids = {e["submission_id"] for e in events if e["submission_id"]}
    # Every event of the invoice, even those found by its invoice id only.
    inv_ids = {e["invoice_id"] for e in events if e["invoice_id"]}
    if inv_ids and len(sub_ids) <= 1:
        more = _events(conn, _BY_INVOICES, [uuid.UUID(i) for i in inv_ids], owners[0])
        seen = {e["event_id"] for e in events}
        events += [e for e in more if e["event_id"] not in seen]
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
    @click.option("--tenant", help="The tenant's SIRET (needed when two tenants used the ID).")
    @json_option
    def status(ident: str | None, tenant: str | None, as_json: bool) -> None:
        """An invoice's history by submission id or invoice id; without ID, the system view."""
        if ident is None:
            from efacture.cli.overview import overview

            overview(as_json)
            return
        try:
            with connection() as conn:
                h = history(conn, ident, tenant)
        except AmbiguousId as amb:
            fail(f"the id {ident} is used by {len(amb.tenants)} tenants "
                 f"({', '.join(amb.tenants)}): give --tenant SIRET.")
        if h is None:
            whose = f" for tenant {tenant}" if tenant else ""
            fail(f"no submission or invoice is known by the id {ident}{whose}.")

        def human() -> None:
            click.echo(f"submission {printable(h['submission_id'])}  invoice {h['invoice_id']}"
                       f"  tenant {h['tenant']}  number {printable(h['invoice_number'])}"
                       f"  state {h['state']}")
            table(None, ["occurred_at", "event", "code", "reasons / detail"], [
                [e["occurred_at"], e["event"], e["lifecycle_code"] or "",
                 "; ".join(f"{r['code']}: {r['message']}" for r in e["reasons"])
                 or json.dumps(e["detail"], ensure_ascii=False)]
                for e in h["events"]])

        emit(h, as_json, human)
