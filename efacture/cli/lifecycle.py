"""``efacture lifecycle send``: a status the seller owes (212 Encaissée; 207, 210), as a CDAR.

Exit 0 sent (or already sent: the same command run again sends nothing new), 1 refused or
the platform failed (running it again is safe), 2 bad usage (a missing amount, an
unknown VAT rate, a reason the rules do not allow for that status).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from efacture.cli.output import emit, fail, printable


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        fail(f"{name} {value!r} is not a number.", 2)
    # NaN, Infinity and 1e999999 parse, then raise in the comparisons and quantize below.
    if not number.is_finite() or number.adjusted() > 15:
        fail(f"{name} {value!r} is not a number.", 2)
    return number


def _check_usage(code: int, amount: Decimal | None, vat_rate: Decimal | None,
                 reason: str | None) -> None:
    from services.transmit.domain.cdar import ALLOWED_REASONS, NEEDS_REASON, VAT_RATES

    if code == 212 and (amount is None or vat_rate is None):
        fail("212 Encaissée needs --amount and --vat-rate (BR-FR-CDV-14).", 2)
    if code != 212 and (amount is not None or vat_rate is not None):
        fail("--amount and --vat-rate go with --code 212 only.", 2)
    if amount is not None and (amount <= 0 or amount != amount.quantize(Decimal("0.01"))):
        fail("--amount must be positive with at most 2 decimals.", 2)
    if vat_rate is not None and vat_rate not in VAT_RATES:
        fail(f"--vat-rate {vat_rate} is not a French VAT rate.", 2)
    if code in NEEDS_REASON and not reason:
        fail(f"status {code} needs --reason CODE (BR-FR-CDV-15).", 2)
    allowed = ALLOWED_REASONS.get(code)
    if reason and allowed is not None and reason not in allowed:
        fail(f"reason {reason} is not allowed with status {code}; use one of "
             f"{', '.join(sorted(allowed))}.", 2)


async def _send(invoice_id: uuid.UUID, code: int, on: date, amount: Decimal | None,
                vat_rate: Decimal | None, reason: str | None, text: str) -> dict[str, Any]:
    from efacture.cli.async_runtime import cli_runtime
    from services.transmit.adapters.pa_client import PaClient
    from services.transmit.lifecycle_send import LifecycleSender, SendRefused, SendRequest
    from services.transmit.service import TransmitService
    from shared.errors import PermanentError, RetryableError
    from shared.settings import get_settings

    async with cli_runtime(get_settings(), broker=True) as rt, PaClient() as pa:
        req = SendRequest(invoice_id=invoice_id, code=code, on=on, amount=amount,
                          vat_rate=vat_rate, reason_code=reason, reason_text=text)
        sender = LifecycleSender(rt.pool, rt.publish, pa)
        try:
            async with rt.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT tenant FROM archive.invoice WHERE invoice_id = %s", (invoice_id,))
                row = await cur.fetchone()
            if row is None:
                raise SendRefused(f"invoice {invoice_id} is not in the archive",
                                  code="unknown-invoice")
            # TransmitService only needs a pool and the settings to open the credentials.
            creds = await TransmitService(rt).credentials(row[0])  # type: ignore[arg-type]
            result = await sender.send(req, creds)
        except SendRefused as exc:
            fail(f"{exc} ({exc.code}).")
        except RetryableError as exc:
            fail(f"the platform did not take the status ({exc.code}: {exc}); "
                 "run the command again.")
        except PermanentError as exc:
            fail(f"the platform refused the status ({exc.code}: {exc}).")
    return {"invoice_id": str(invoice_id), "tenant": result.tenant,
            "invoice_number": result.invoice_number, "lifecycle_code": code,
            "tracking_id": str(result.tracking_id), "flow_id": result.flow_id,
            "event_id": str(result.event_id), "already_sent": result.already_sent,
            "direction": "sent"}


def register(cli: click.Group) -> None:
    @cli.group()
    def lifecycle() -> None:
        """Lifecycle statuses the seller sends to its platform (CDAR)."""

    @lifecycle.command("send")
    @click.argument("invoice_id")
    @click.option("--code", type=click.Choice(["212", "207", "210"]), required=True,
                  help="212 Encaissée, 207 En litige, 210 Refusée.")
    @click.option("--amount", help="Amount received (212), e.g. 120.00.")
    @click.option("--vat-rate", help="VAT rate of that amount in percent (212), e.g. 20.")
    @click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]),
                  help="Date of the status (default: today, UTC).")
    @click.option("--reason", help="Reason code (207, 210), e.g. DOUBLON; 'CODE: text' adds a "
                  "message.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def send(invoice_id: str, code: str, amount: str | None, vat_rate: str | None,
             on: datetime | None, reason: str | None, as_json: bool) -> None:
        """Send status CODE about INVOICE_ID as a CDAR flow, exactly once."""
        try:
            parsed = uuid.UUID(invoice_id)
        except ValueError:
            fail(f"{invoice_id!r} is not an invoice id (a UUID).", 2)
        amt, rate = _decimal(amount, "--amount"), _decimal(vat_rate, "--vat-rate")
        reason_code, _, text = (reason or "").partition(":")
        _check_usage(int(code), amt, rate, reason_code.strip() or None)
        day = on.date() if on else datetime.now(UTC).date()
        out = asyncio.run(_send(parsed, int(code), day, amt, rate, reason_code.strip() or None,
                                text.strip()))
        emit(out, as_json, lambda: click.echo(
            f"{'already sent' if out['already_sent'] else 'sent'}: status {code} for invoice "
            f"{printable(out['invoice_number'] or invoice_id)} (flow {out['flow_id']})"))
