"""``validate``: the checks ingest makes, without submitting (contract section 4).

``efacture validate FILE... [--tenant SIRET] [--no-transmit] [--official] [--json]`` prints,
per file, the verdict ingest would give: syntax, profile and every reason (rule id, official
message, location, severity). Without ``--tenant`` the context is the strictest one, a
production (non-sandbox) tenant transmitting to the platform; with ``--tenant`` the tenant is
read from the database (sandbox relaxations, ``tenant-mismatch``). ``--official`` also runs the
official artefacts (SaxonC, ~20 ms and ~500 MB per process) and shows their findings beside
ingest's, with the rules on which the two differ. Exit 0 when every file is valid, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from efacture.cli.output import emit, fail, json_option, printable, table
from efacture.cli.submit import content_type_of


def _reason(code: str, message: str, severity: str, path: str | None) -> dict[str, Any]:
    return {"code": code, "message": message, "severity": severity, "path": path}


def _tenant(siret: str | None) -> tuple[str | None, bool]:
    """``(siret, sandbox)`` of the registered tenant, or ``(None, False)`` without one."""
    if siret is None:
        return None, False
    from efacture.cli.dbconn import connection
    from shared import tenants

    with connection() as conn:
        found = tenants.get_sync(conn, siret)
    if found is None:
        fail(f"no tenant is registered with SIRET {siret}.")
    return siret, bool(found.sandbox)


def check(path: Path, tenant: str | None, sandbox: bool, transmit: bool,
          official: bool) -> dict[str, Any]:
    """The contract's record for one file (plus ``official`` when asked)."""
    from services.ingest.domain.admission import admission_reasons
    from services.ingest.domain.analysis import analyse
    from shared.settings import get_settings

    body = path.read_bytes()
    analysis = analyse(body, content_type_of(path), sandbox=sandbox,
                       max_bytes=get_settings().max_document_bytes)
    seller = analysis.invoice.seller if analysis.invoice else None
    siret = tenant or (seller.siret if seller and seller.siret else None) or (
        seller.siren + "00000" if seller and seller.siren else "00000000000000")
    more_errors, more_warnings = admission_reasons(
        analysis, tenant_siret=siret, sandbox=sandbox, transmit=transmit, headers={})
    errors = [*analysis.errors, *more_errors]
    warnings = [*analysis.warnings, *more_warnings]
    record: dict[str, Any] = {
        "file": str(path),
        "valid": not errors,
        "syntax": analysis.syntax,
        "profile": analysis.profile,
        "reasons": [_reason(r.code, r.message, "error", r.path) for r in errors]
        + [_reason(r.code, r.message, "warning", r.path) for r in warnings],
    }
    if official:
        record["official"] = _official(analysis, errors)
    return record


def _official(analysis: Any, errors: list[Any]) -> dict[str, Any]:
    from services.ingest.domain.official import default_oracle
    from services.ingest.domain.verdicts import official_verdict

    verdict = official_verdict(analysis, default_oracle())
    reasons = [_reason(r.code, r.message, "error", r.path) for r in verdict.reasons]
    reasons += [_reason(f.rule, f.message, "error" if f.fatal else "warning", f.location)
                for f in verdict.findings]
    if not verdict.findings and not verdict.reasons and not verdict.valid:
        reasons += [_reason(code, "no invoice XML the official artefacts can judge", "error",
                            None) for code in sorted(verdict.rules)]
    ingest_rules = {e.code for e in errors}
    return {
        "valid": verdict.valid,
        "sets": list(verdict.sets),
        "reasons": reasons,
        "only_ingest": sorted(ingest_rules - verdict.rules),
        "only_official": sorted(verdict.rules - ingest_rules),
    }


def _human(records: list[dict[str, Any]], official: bool) -> None:
    table("validation", ["file", "valid", "syntax", "profile", "errors", "warnings"]
          + (["official"] if official else []),
          [[r["file"], r["valid"], r["syntax"], r["profile"],
            sum(x["severity"] == "error" for x in r["reasons"]),
            sum(x["severity"] == "warning" for x in r["reasons"])]
           + ([r["official"]["valid"]] if official else []) for r in records])
    for r in records:
        if r["reasons"]:
            table(f"{r['file']}: ingest", ["code", "severity", "location", "message"],
                  [[x["code"], x["severity"], x["path"], x["message"]] for x in r["reasons"]])
        if not official:
            continue
        off = r["official"]
        if off["reasons"]:
            table(f"{r['file']}: official ({', '.join(off['sets']) or 'no set'})",
                  ["code", "severity", "location", "message"],
                  [[x["code"], x["severity"], x["path"], x["message"]] for x in off["reasons"]])
        same = "same verdict" if off["valid"] == r["valid"] else "DIFFERENT verdict"
        click.echo(printable(f"{r['file']}: {same}; only ingest: "
                             f"{', '.join(off['only_ingest']) or '-'}; only official: "
                             f"{', '.join(off['only_official']) or '-'}"))


def register(cli: click.Group) -> None:
    @cli.command("validate")
    @click.argument("files", nargs=-1, required=True,
                    type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--tenant", default=None, help="The issuer's SIRET (its sandbox flag and "
                  "SIREN apply); without it, a production tenant.")
    @click.option("--no-transmit", is_flag=True, help="Judge an archive-only submission.")
    @click.option("--official", is_flag=True,
                  help="Also run the official artefacts and show their report beside ingest's.")
    @json_option
    def validate(files: tuple[Path, ...], tenant: str | None, no_transmit: bool, official: bool,
                 as_json: bool) -> None:
        """Check invoices as ingest would, without submitting them."""
        siret, sandbox = _tenant(tenant)
        records = [check(f, siret, sandbox, not no_transmit, official) for f in files]
        emit(records, as_json, lambda: _human(records, official))
        if not all(r["valid"] for r in records):
            raise SystemExit(1)
