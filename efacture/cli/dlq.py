"""``dlq list|show|replay|drop``: dead-lettered transmissions (contract section 4).

Reading never removes anything: the queue is read unacked and closed, so every
message returns. ``replay`` publishes each copy with confirms, records who
replayed it, and only then removes the dead copy — a crash mid-replay leaves
each letter replayed, still dead, or (between the two) both; never lost. A
copy replayed twice is harmless: transmit looks the trackingId up before any
second upload. Every replay and drop is recorded in ``transmit.dlq_audit``.
"""

from __future__ import annotations

import getpass
import os
import time
from datetime import UTC, datetime
from typing import Any

import click
import pika.exceptions
import psycopg
from psycopg.types.json import Jsonb
from rich.progress import Progress

from efacture.cli.dbconn import connection
from efacture.cli.output import emit, fail, json_option, table
from services.transmit.adapters.dead_letters import DeadLetter, DeadLetterQueue
from shared.settings import get_settings
from shared.topology import dlq_name

queue_option = click.option(
    "--queue", "queue", default="transmit", show_default=True,
    help="Whose dead letters: transmit, ingest, archive, transmit.poll, metering "
         "(or a queue name).")


def _queue_name(short: str) -> str:
    name = short if short.startswith("efacture.") else f"efacture.{short}"
    return name if name.endswith(".dlq") else dlq_name(name)


def _open(queue: str) -> DeadLetterQueue:
    try:
        return DeadLetterQueue(get_settings().amqp_url, _queue_name(queue))
    except pika.exceptions.ChannelClosedByBroker:
        fail(f"there is no queue {_queue_name(queue)}: run `efacture topology apply` first.")
    except pika.exceptions.AMQPError as exc:
        fail(f"cannot reach RabbitMQ at the configured EFACTURE_AMQP_URL ({type(exc).__name__}).")


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matches(row: dict[str, Any], tenant: str | None, since: datetime | None,
             reason: str | None) -> bool:
    failed = _when(row["first_failed_at"])
    return ((tenant is None or row["tenant"] == tenant)
            and (since is None or (failed is not None and failed >= since))
            and (reason is None or reason.lower() in (row["last_error"] or "").lower()))


def _plain(value: Any) -> Any:
    """AMQP table values as JSON-ready data (bytes as text)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _audit(conn: psycopg.Connection[Any], action: str, letter: DeadLetter,
           detail: dict[str, Any]) -> None:
    """Record (and commit) who did what to which letter, before the letter is removed."""
    actor = os.environ.get("USER") or getpass.getuser()
    invoice_id = letter.summary()["invoice_id"]
    conn.execute(
        "INSERT INTO transmit.dlq_audit (action, invoice_id, message_id, actor, detail)"
        " VALUES (%s, %s, %s, %s, %s)",
        (action, invoice_id, letter.id, actor, Jsonb({"queue": letter.queue, **detail})))
    conn.commit()


def _select(dlq: DeadLetterQueue, ids: tuple[str, ...]) -> list[DeadLetter]:
    try:
        return dlq.find(list(ids))
    except KeyError as exc:
        fail(f"no dead letter {exc.args[0]} in {dlq.queue} (see `efacture dlq list`).")


def register(cli: click.Group) -> None:
    @cli.group()
    def dlq() -> None:
        """Dead-lettered transmissions: list, show, replay, drop."""

    since_type = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])
    filters = [
        click.option("--tenant", help="Only this tenant's SIRET."),
        click.option("--since", type=since_type, help="Only letters that failed since (UTC)."),
        click.option("--reason", help="Only letters whose last error contains this text."),
    ]

    def with_filters(fn: Any) -> Any:
        for option in reversed(filters):
            fn = option(fn)
        return fn

    @dlq.command("list")
    @with_filters
    @queue_option
    @json_option
    def list_(tenant: str | None, since: datetime | None, reason: str | None, queue: str,
              as_json: bool) -> None:
        """The dead letters waiting in the queue (nothing is removed)."""
        since_utc = since.replace(tzinfo=UTC) if since else None
        with _open(queue) as dq:
            rows = [r for r in (x.summary() for x in dq.letters)
                    if _matches(r, tenant, since_utc, reason)]
        emit(rows, as_json, lambda: table(
            f"{len(rows)} dead letter(s) in {_queue_name(queue)}",
            ["id", "tenant", "invoice", "attempts", "last error", "first failure"],
            [[r["id"], r["tenant"], r["invoice_number"] or r["invoice_id"], r["attempts"],
              (r["last_error"] or "")[:60] + (" (permanent)" if r["permanent"] else ""),
              r["first_failed_at"]] for r in rows]))

    @dlq.command()
    @click.argument("letter_id")
    @queue_option
    @json_option
    def show(letter_id: str, queue: str, as_json: bool) -> None:
        """One dead letter: its headers, x-death and a summary of its body."""
        with _open(queue) as dq:
            [letter] = _select(dq, (letter_id,))
            headers = {k: v for k, v in letter.headers.items() if k != "x-death"}
            doc = {"id": letter.id, "queue": letter.queue, "summary": letter.summary(),
                   "headers": _plain(headers), "x_death": _plain(letter.deaths),
                   "copies": len(letter.tags),
                   "body": letter.payload or {"content_type": letter.properties.content_type,
                                              "bytes": len(letter.body)}}
        emit(doc, as_json, lambda: click.echo(
            "\n".join(f"{k}: {v}" for k, v in doc.items() if k != "summary")))

    @dlq.command()
    @click.argument("ids", nargs=-1)
    @click.option("--all", "all_", is_flag=True, help="Every letter (that the filters keep).")
    @click.option("--dry-run", is_flag=True, help="Say what would be replayed; change nothing.")
    @click.option("--rate", type=click.FloatRange(min=0, min_open=True),
                  help="At most N messages per second.")
    @with_filters
    @queue_option
    @json_option
    def replay(ids: tuple[str, ...], all_: bool, dry_run: bool, rate: float | None,
               tenant: str | None, since: datetime | None, reason: str | None, queue: str,
               as_json: bool) -> None:
        """Send dead letters back to transmit (a new round of retries)."""
        if bool(ids) == all_:
            fail("give dead-letter ids or --all (not both).", 2)
        since_utc = since.replace(tzinfo=UTC) if since else None
        with connection() as conn, _open(queue) as dq:
            chosen = [x for x in (_select(dq, ids) if ids else dq.letters)
                      if _matches(x.summary(), tenant, since_utc, reason)]
            done: list[dict[str, Any]] = []
            start = time.monotonic()
            with Progress(disable=as_json or dry_run or len(chosen) < 5,
                          transient=True) as progress:
                task = progress.add_task("replaying", total=len(chosen))
                for n, letter in enumerate(chosen):
                    if rate:
                        time.sleep(max(0.0, start + n / rate - time.monotonic()))
                    row = {"id": letter.id, "invoice_id": letter.summary()["invoice_id"],
                           "replay_count": letter.replay_count + 1}
                    if not dry_run:
                        try:
                            count = dq.republish(letter)
                        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                            fail(f"RabbitMQ refused the copy of {letter.id}; it stays "
                                 f"dead-lettered ({len(done)} replayed before it).")
                        exchange, routing_key = letter.target()
                        _audit(conn, "replay", letter, {"replay_count": count, "exchange": exchange,
                                                  "routing_key": routing_key})
                        dq.remove(letter)
                    done.append(row)
                    progress.advance(task)
        result = {"dry_run": dry_run, "count": len(done), "replayed": done}
        emit(result, as_json, lambda: click.echo(
            f"{'would replay' if dry_run else 'replayed'} {len(done)} dead letter(s)"))

    @dlq.command()
    @click.argument("ids", nargs=-1, required=True)
    @queue_option
    @json_option
    def drop(ids: tuple[str, ...], queue: str, as_json: bool) -> None:
        """Remove dead letters for good (recorded in the audit table)."""
        with connection() as conn, _open(queue) as dq:
            letters = _select(dq, ids)
            for letter in letters:
                _audit(conn, "drop", letter, {"summary": letter.summary()})
                dq.remove(letter)
        dropped = [x.id for x in letters]
        emit({"dropped": dropped, "count": len(dropped)}, as_json,
             lambda: click.echo(f"dropped {len(dropped)} dead letter(s)"))

