"""A big archive made directly in PostgreSQL, for the bench to run on top (issue 15, "flat with
scale": throughput with 1,000,000 archived entries against an empty archive).

:func:`fill` writes, in three transactions run side by side, ``entries`` invoices that look
archived to every code path the pipeline touches, for the given tenants:

- ``archive.log_leaf``: canonical invoice leaves (``services.archive.domain.leaf``) and their
  RFC 9162 leaf hashes, computed by PostgreSQL's ``sha256``;
- ``archive.log_node``: every complete subtree above them, level by level, so the frontier the
  next append reads, roots, inclusion and consistency proofs are those of a real log;
- ``archive.log_checkpoint``: one checkpoint every ``checkpoint_every`` leaves and one at the
  end, signed with the archive's own log key (``<data_dir>/keys/log.key``, created if missing),
  so the next checkpoint and a new invoice's proof bundle chain onto them;
- ``archive.invoice``: one catalogue row per leaf (``log_index`` = its leaf), with a TSA token
  and a wrapped data key of realistic size (no blob behind them: nothing in the pipeline reads
  an old invoice's document);
- ``ingest.submission`` and ``ingest.invoice_key``: the idempotency keys ingest checks;
- ``metering.counted``, ``period_count``, ``tenant_count``: the ledger and counters, in the
  period each entry counts in (``services.metering`` rule), so ``usage reconcile`` agrees;
- ``transmit.transmission``: every entry transmitted and accepted.

The log must be empty (a fresh database after migrations). Entry ``i`` is archived at ``start +
i × span / entries`` (whole seconds); invoice numbers are ``BIG-…`` so none collides with the
bench's own. Raises ``RuntimeError`` on a non-empty log; a failure can leave part of the fill
committed (the bench drops its database in any case).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from efacture.bench.big_archive_sql import (
    _ANALYZE,
    _BIG,
    _CATALOGUE,
    _INGEST,
    _LEAVES,
    _METERING,
    _TRANSMIT,
    _UP,
)

TOKEN_BYTES = 1400
"""Size of each synthetic TSA token (bytea, random so TOAST cannot shrink it)."""

@dataclass(frozen=True)
class Filled:
    entries: int
    checkpoints: int
    seconds: float
    log_nodes: int
    db_cpu_seconds: float | None  # the filling PostgreSQL backend's CPU (None: not local)

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "checkpoints": self.checkpoints,
                "fill_seconds": round(self.seconds, 1), "log_nodes": self.log_nodes,
                "fill_db_cpu_seconds": (None if self.db_cpu_seconds is None
                                        else round(self.db_cpu_seconds, 1))}


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a local process, from /proc; None when it is not on this machine."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _periods(tenants: list[str], subscribed_on: date, start: datetime,
             span: timedelta) -> list[tuple[str, date, date, date]]:
    """(tenant, Paris civil day, period start, period end) for every day of the span: the rule
    of ``services.metering.service.period_for`` and of ``usage reconcile``."""
    from shared.billing import day_of, period_containing

    days = (span.days or 0) + 3
    out: list[tuple[str, date, date, date]] = []
    for k in range(-1, days):
        day = day_of(start + timedelta(days=k))
        period = period_containing(subscribed_on, max(day, subscribed_on))  # metering's rule
        out.extend((t, day, period.start, period.end) for t in tenants)
    return out


async def _checkpoints(database_url: str, data_dir: Path, entries: int, every: int,
                       start: datetime, span: timedelta) -> int:
    """Sign and store checkpoints at every ``every`` leaves and at ``entries``; returns how many."""
    from services.archive.adapters import merkle_store
    from services.archive.adapters.log_key import load_or_create_log_key
    from services.archive.domain.checkpoint import sign_checkpoint

    signer = load_or_create_log_key(data_dir)
    sizes = sorted({*range(every, entries, every), entries}) if every > 0 else [entries]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for size in sizes:
            moment = (start + span * (size - 1) / entries).replace(microsecond=0)
            signed = sign_checkpoint(signer, size, await merkle_store.root(conn, size), moment)
            await conn.execute(
                "INSERT INTO archive.log_checkpoint (size, root_hash, created_at, signature,"
                " key_id) VALUES (%s, %s, %s, %s, %s)",
                (signed.size, bytes.fromhex(signed.root_hash), moment,
                 base64.b64decode(signed.signature), signed.key_id))
        await conn.commit()
    return len(sizes)


def _session(conn: psycopg.Connection[Any], params: dict[str, Any],
             periods: list[tuple[str, date, date, date]] | None = None) -> None:
    """A filling transaction's settings and its own ``big`` (and ``bench_period``) tables."""
    conn.execute("SET LOCAL synchronous_commit = off")
    conn.execute("SET LOCAL work_mem = '256MB'")
    conn.execute(_BIG, params)
    if periods is not None:
        conn.execute("CREATE TEMP TABLE bench_period (tenant text, day date,"
                     " period_start date, period_end date) ON COMMIT DROP")
        with conn.cursor().copy("COPY bench_period FROM STDIN") as copy:
            for record in periods:
                copy.write_row(record)


def _backend_cpu(conn: psycopg.Connection[Any]) -> float | None:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    return _cpu_seconds(row[0]) if row else None


def _log_part(url: str, params: dict[str, Any]) -> tuple[int, float | None]:
    """Leaves, then every complete subtree level by level; returns (nodes, backend CPU s)."""
    with psycopg.connect(url) as conn:
        before = _backend_cpu(conn)
        _session(conn, params)
        conn.execute(_LEAVES)
        conn.execute("INSERT INTO archive.log_leaf (idx, hash, data)"
                     " SELECT idx, hash, data FROM lvl")
        nodes, level = 0, 1
        while True:
            conn.execute(_UP)
            cur = conn.execute("INSERT INTO archive.log_node (level, idx, hash)"
                               " SELECT %s, idx, hash FROM nxt", (level,))
            if cur.rowcount <= 0:
                break
            nodes += cur.rowcount
            conn.execute("DROP TABLE lvl")
            conn.execute("ALTER TABLE nxt RENAME TO lvl")
            level += 1
        conn.commit()
        after = _backend_cpu(conn)
    return nodes, (after - before) if before is not None and after is not None else None


def _rows_part(url: str, params: dict[str, Any], statements: list[str],
               periods: list[tuple[str, date, date, date]] | None) -> tuple[int, float | None]:
    with psycopg.connect(url) as conn:
        before = _backend_cpu(conn)
        _session(conn, params, periods)
        for statement in statements:
            conn.execute(statement, params if "%(" in statement else None)
        conn.commit()
        after = _backend_cpu(conn)
    return 0, (after - before) if before is not None and after is not None else None


def fill(database_url: str, data_dir: Path, tenants: list[str], entries: int, *,
         end: datetime | None = None, span: timedelta = timedelta(days=30),
         subscribed_on: date = date(2026, 1, 1), checkpoint_every: int = 10_000,
         tag: str = "bench", workers: int = 2,
         progress: Callable[[str, int, int], None] | None = None) -> Filled:
    """Fill the (empty, migrated) archive of ``database_url`` with ``entries`` entries spread
    over ``tenants`` and over ``span`` ending at ``end`` (default: now). ``data_dir`` is the
    archive's ``EFACTURE_DATA_DIR`` (its log key signs the checkpoints). The tenants are
    registered (sandbox, ``subscribed_on``) if they are not yet.

    Three transactions on ``workers`` connections at once (the log; the catalogue; ingest,
    metering and transmit), then the checkpoints: a failure can leave part of the fill
    committed (the bench drops its database whatever happens)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from shared import tenants as tenant_registry

    if entries < 1 or not tenants:
        raise ValueError("fill needs at least one entry and one tenant")
    began = time.monotonic()
    start = (end or datetime.now(UTC)) - span
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM (SELECT 1 FROM archive.log_leaf LIMIT 1) x"
                           ).fetchone()
        if row and row[0]:
            raise RuntimeError("the archive's log is not empty: a big archive fills a fresh one")
        for siret in tenants:
            tenant_registry.add(conn, siret, f"bench {siret}", subscribed_on, True)
    params = {"tag": tag, "tenants": tenants, "nt": len(tenants), "n": entries,
              "start": start.replace(microsecond=0), "span": int(span.total_seconds()),
              "token": os.urandom(TOKEN_BYTES)}
    periods = _periods(tenants, subscribed_on, start, span)
    done = 0
    if progress:
        progress("big archive", 0, 4)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        parts = [pool.submit(_log_part, database_url, params),
                 pool.submit(_rows_part, database_url, params, [_CATALOGUE], None),
                 pool.submit(_rows_part, database_url, params,
                             [_INGEST, _METERING, _TRANSMIT], periods)]
        results = []
        for part in parts:
            results.append(part.result())
            done += 1
            if progress:
                progress("big archive", done, 4)
    with psycopg.connect(database_url, autocommit=True) as conn:
        # An archive that grew over months was vacuumed (visibility map set, so the pipeline's
        # index-only lookups stay off the heap), analysed and checkpointed (no 3 GB of dirty
        # pages flushed under the run); CHECKPOINT needs a superuser or pg_checkpoint.
        for table in _ANALYZE:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    count = asyncio.run(_checkpoints(database_url, data_dir, entries, checkpoint_every, start,
                                     span))
    if progress:
        progress("big archive", 4, 4)
    cpus = [c for _, c in results]
    cpu = None if any(c is None for c in cpus) else sum(c for c in cpus if c is not None)
    return Filled(entries, count, time.monotonic() - began, results[0][0], cpu)
