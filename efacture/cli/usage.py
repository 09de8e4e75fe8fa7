"""``usage SIRET [--at DATE]``, ``usage statement SIRET [--period START]``, ``usage reconcile``.

``usage SIRET`` prints contract section 6 (plus the period's ``amount`` and ``currency`` so
far). ``--at`` picks the period holding that Europe/Paris day, with the period and plan before
it; ``stored`` and ``cumulative`` are then as of the end of that day (from the ledgers),
otherwise as of now (from the counters).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click

from efacture.cli.dbconn import connection
from efacture.cli.output import emit, fail, json_option, table

_DAY = click.DateTime(formats=["%Y-%m-%d"])


class _UsageGroup(click.Group):
    """``usage SIRET`` runs the hidden ``show``; ``usage statement|reconcile`` the others."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


def _today() -> date:
    from shared.billing import day_of
    from shared.messages.base import utcnow

    return day_of(utcnow())


def _tariff() -> Any:
    from services.metering.domain.tariff import load_tariff
    from shared.settings import get_settings

    try:
        return load_tariff(get_settings().tariff_file)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the tariff: {exc}.")


def _as_day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def register(cli: click.Group) -> None:
    @cli.group(cls=_UsageGroup, name="usage")
    def usage_group() -> None:
        """Metering: `usage SIRET [--at YYYY-MM-DD] [--json]` prints a tenant's counters and
        billing period; `usage statement SIRET` bills a closed period; `usage reconcile`
        checks the counters against the archive."""

    @usage_group.command("show", hidden=True)
    @click.argument("siret")
    @click.option("--at", "at", type=_DAY, help="A day (YYYY-MM-DD): report its period.")
    @json_option
    def show(siret: str, at: datetime | None, as_json: bool) -> None:
        """Counters and billing period of tenant SIRET."""
        from services.metering.adapters import counters
        from services.metering.domain.usage import usage
        from shared import tenants
        from shared.billing import period_containing, previous_period

        day = _as_day(at) or _today()
        tariff = _tariff()
        with connection() as conn:
            tenant = tenants.get_sync(conn, siret)
            if tenant is None:
                fail(f"no tenant is registered with SIRET {siret}.")
            if day < tenant.subscribed_on:
                fail(f"{day} is before the subscription of {siret} on {tenant.subscribed_on}.")
            period = period_containing(tenant.subscribed_on, day)
            before = previous_period(tenant.subscribed_on, period)
            count = counters.period_count_sync(conn, siret, period.start)
            previous = counters.period_count_sync(conn, siret, before.start) if before else 0
            stored, cumulative = (counters.totals_at_sync(conn, siret, day) if at is not None
                                  else counters.totals_sync(conn, siret))
        report = usage(tenant=siret, subscribed_on=tenant.subscribed_on, day=day,
                       period_count=count, previous_period_count=previous, stored=stored,
                       cumulative=cumulative, tariff=tariff).model_dump(mode="json")
        emit(report, as_json, lambda: table(
            f"usage of {siret}", ["key", "value"], [[k, v] for k, v in report.items()]))

    @usage_group.command("statement")
    @click.argument("siret")
    @click.option("--period", "start", type=_DAY,
                  help="A day of the closed period (YYYY-MM-DD); default: the last closed one.")
    @click.option("--as-of", "as_of", type=_DAY,
                  help="Judge which periods are closed as of this day (YYYY-MM-DD, Europe/Paris);"
                       " default: today. For re-issuing a statement as it stood on a past day.")
    @json_option
    def statement_cmd(siret: str, start: datetime | None, as_of: datetime | None,
                      as_json: bool) -> None:
        """Count, plan, tranches and amount of a closed billing period of tenant SIRET."""
        from services.metering.closing import statement_of
        from shared import tenants
        from shared.billing import period_containing, previous_period

        today = _as_day(as_of) or _today()
        tariff = _tariff()
        with connection() as conn:
            tenant = tenants.get_sync(conn, siret)
            if tenant is None:
                fail(f"no tenant is registered with SIRET {siret}.")
            day = _as_day(start) or today
            if day < tenant.subscribed_on:
                fail(f"{day} is before the subscription of {siret} on {tenant.subscribed_on}.")
            period = period_containing(tenant.subscribed_on, day)
            if start is None:
                last = previous_period(tenant.subscribed_on, period)
                if last is None:
                    fail(f"tenant {siret} has no closed billing period yet.")
                period = last
            if period.end >= today:
                fail(f"the period {period.start}..{period.end} of {siret} is not closed yet.")
            st = statement_of(conn, siret, tenant.subscribed_on, period, tariff, today)
        data = st.model_dump(mode="json")
        emit(data, as_json, lambda: table(
            f"statement of {siret}", ["key", "value"], [[k, v] for k, v in data.items()]))

    @usage_group.command("reconcile")
    @json_option
    def reconcile_cmd(as_json: bool) -> None:
        """Compare the counters with the archive catalogue; exit 1 naming every difference."""
        from services.metering.adapters.reconciliation import reconcile

        with connection() as conn:
            differences = reconcile(conn)
        data = {"ok": not differences, "differences": [d.public() for d in differences]}
        emit(data, as_json, lambda: table(
            "metering vs archive", ["tenant", "counter", "period", "archive", "metering"],
            [[d.tenant, d.counter,
              f"{d.period_start}..{d.period_end}" if d.period_start else "",
              d.archive, d.metering] for d in differences])
            if differences else click.echo("counters match the archive catalogue"))
        if differences:
            fail(f"{len(differences)} difference(s) between the counters and the archive: "
                 + "; ".join(d.describe() for d in differences) + ".")
