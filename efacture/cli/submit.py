"""``submit``: publish files as the ERP does (pika, publisher confirms, mandatory).

Every message carries ``user_id`` = the connection's RabbitMQ user (the broker refuses any
other) and goes to ``invoice.submit.<SIRET>``, the one key an ERP user may write to; a tenant
that is not a 14-digit SIRET goes to plain ``invoice.submit`` (operators only), where ingest
answers ``unknown-tenant``. See docs/tenant-isolation.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path

import click
import pika
import pika.exceptions
from rich.progress import Progress

from efacture.cli.output import emit, fail, json_option, table
from shared.amqp_nodes import amqp_user, pika_parameters
from shared.settings import get_settings
from shared.topology import INBOUND, RK_SUBMIT, submit_key

_SIRET = re.compile(r"^\d{14}$")
# The node went away under us (not a refusal by the broker): connect again.
_NODE_LOST = (pika.exceptions.AMQPConnectionError, pika.exceptions.ConnectionWrongStateError,
              pika.exceptions.ChannelWrongStateError)


def content_type_of(path: Path) -> str:
    return "application/pdf" if path.suffix.lower() == ".pdf" else "application/xml"


class Submitter:
    """A confirmed publishing channel to ``efacture.inbound`` (one connection for many files).

    ``amqp_url`` may name several nodes (comma-separated): it connects to the first that
    answers, and a publish whose node died connects again (to the next that answers) and
    publishes once more. That repeat is safe: ingest treats the same ``message_id`` as one
    submission.
    """

    def __init__(self, amqp_url: str) -> None:
        # pika logs in as guest when the URL names no user; user_id must be that same name.
        self.user = amqp_user(amqp_url)
        self._nodes = pika_parameters(amqp_url)
        self._connect()

    def _connect(self) -> None:
        self.conn = pika.BlockingConnection(self._nodes)
        self.channel = self.conn.channel()
        self.channel.confirm_delivery()

    def publish(
        self,
        body: bytes,
        *,
        tenant: str,
        message_id: str,
        content_type: str,
        transmit: bool = True,
        headers: Mapping[str, object] | None = None,
    ) -> None:
        """Returns once the broker confirmed; raises if unroutable or nacked (and
        ``ChannelClosedByBroker`` when the user may not write the tenant's key)."""
        h: dict[str, object] = {"tenant": tenant, "transmit": transmit, **(headers or {})}
        try:
            self._publish(body, tenant, message_id, content_type, h)
        except _NODE_LOST:
            self._connect()
            self._publish(body, tenant, message_id, content_type, h)

    def _publish(self, body: bytes, tenant: str, message_id: str, content_type: str,
                 h: dict[str, object]) -> None:
        self.channel.basic_publish(
            INBOUND,
            submit_key(tenant) if _SIRET.match(tenant) else RK_SUBMIT,
            body,
            pika.BasicProperties(
                message_id=message_id, content_type=content_type, delivery_mode=2, headers=h,
                user_id=self.user,
            ),
            mandatory=True,
        )

    def close(self) -> None:
        if self.conn.is_open:
            self.conn.close()


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--tenant", required=True, help="The issuer's SIRET.")
    @click.option("--no-transmit", is_flag=True, help="Archive only.")
    @click.option("--message-id", help="Submission id (one file only); default: a new UUID.")
    @click.option("--invoice-number", help="Plain PDF metadata.")
    @click.option("--issue-date", help="Plain PDF metadata (YYYY-MM-DD).")
    @click.option("--recipient-id", help="Plain PDF metadata.")
    @click.option("--recipient-email")
    @json_option
    def submit(
        files: tuple[str, ...],
        tenant: str,
        no_transmit: bool,
        message_id: str | None,
        invoice_number: str | None,
        issue_date: str | None,
        recipient_id: str | None,
        recipient_email: str | None,
        as_json: bool,
    ) -> None:
        """Publish invoice files to efacture.inbound; prints the submission ids."""
        if message_id and len(files) > 1:
            fail("--message-id names one submission: give it one file.", 2)
        extra = {
            k: v
            for k, v in {
                "invoice-number": invoice_number,
                "issue-date": issue_date,
                "recipient-id": recipient_id,
                "recipient-email": recipient_email,
            }.items()
            if v
        }
        try:
            sub = Submitter(get_settings().amqp_url)
        except pika.exceptions.AMQPError as exc:
            fail(
                f"cannot reach RabbitMQ at the configured EFACTURE_AMQP_URL ({type(exc).__name__})."
            )
        results: list[dict[str, str]] = []
        try:
            with Progress(disable=len(files) < 5 or as_json, transient=True) as progress:
                task = progress.add_task("submitting", total=len(files))
                for f in files:
                    path = Path(f)
                    mid = message_id or str(uuid.uuid4())
                    sub.publish(
                        path.read_bytes(),
                        tenant=tenant,
                        message_id=mid,
                        content_type=content_type_of(path),
                        transmit=not no_transmit,
                        headers=extra,
                    )
                    results.append({"file": str(path), "submission_id": mid})
                    progress.advance(task)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            fail("RabbitMQ did not accept the submission: run `efacture topology apply` first.")
        except pika.exceptions.ChannelClosedByBroker as exc:
            fail(f"RabbitMQ refused the submission for tenant {tenant} as user {sub.user} "
                 f"({exc.reply_code}): an ERP user may only submit for its own tenant.")
        finally:
            sub.close()
        emit(
            results,
            as_json,
            lambda: table(
                None, ["file", "submission_id"], [[r["file"], r["submission_id"]] for r in results]
            ),
        )
