"""A big archive made directly in PostgreSQL, for the bench to run on top (issue 15, "flat with
scale": throughput with 1,000,000 archived entries against an empty archive).

:func:`fill` writes, in one transaction, ``entries`` invoices that look archived to every code
path the pipeline touches, for the given tenants:

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
bench's own. Raises ``RuntimeError`` on a non-empty log; a failure rolls everything back.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

TOKEN_BYTES = 1400
"""Size of each synthetic TSA token (bytea, random so TOAST cannot shrink it)."""

_BIG = """
CREATE TEMP TABLE big ON COMMIT DROP AS
SELECT i,
       md5('efacture-big-' || %(tag)s || '-' || i)::uuid AS invoice_id,
       (%(tenants)s::text[])[1 + i %% %(nt)s] AS tenant,
       %(start)s::timestamptz + make_interval(secs => (i * %(span)s) / %(n)s) AS at,
       encode(sha256(convert_to('doc-' || %(tag)s || '-' || i, 'UTF8')), 'hex') AS sha
FROM generate_series(0::bigint, %(n)s - 1) AS i
"""

_LEAVES = """
CREATE TEMP TABLE lvl ON COMMIT DROP AS
SELECT i AS idx, sha256('\\x00'::bytea || data) AS hash, data FROM (
    SELECT i, convert_to('{"invoice_id":"' || invoice_id || '","kind":"invoice","sha256":"'
        || sha || '","tenant":"' || tenant || '","timestamp":"'
        || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"}', 'UTF8') AS data
    FROM big) AS b
"""

# One level up: the parent of every complete pair (RFC 9162: SHA-256(0x01 || left || right)).
_UP = """
CREATE TEMP TABLE nxt ON COMMIT DROP AS
SELECT a.idx / 2 AS idx, sha256('\\x01'::bytea || a.hash || b.hash) AS hash
FROM lvl a JOIN lvl b ON b.idx = a.idx + 1
WHERE a.idx % 2 = 0
"""

_CATALOGUE = """
INSERT INTO archive.invoice (invoice_id, tenant, submission_id, invoice_number, type_code,
    issue_date, recipient_id, recipient_name, recipient_email, amount_payable, currency, kind,
    syntax, profile, content_type, size_bytes, sha256, blob_key, wrapped_data_key,
    tenant_key_version, tsa_token, tsa_time, log_index, retain_until, transmit, archived_at)
SELECT invoice_id, tenant, 'big-' || i, 'BIG-' || lpad(i::text, 9, '0'), '380', at::date,
    'RCP' || lpad((i %% 997)::text, 11, '0'), 'Client ' || (i %% 997), NULL,
    ((i %% 100000) / 100.0 + 1)::numeric, 'EUR', 'xml', 'CII', 'EN16931', 'application/xml',
    30000 + (i %% 5000), sha, encode(sha256(convert_to('blob-' || sha, 'UTF8')), 'hex'),
    sha256(convert_to('k1' || sha, 'UTF8')) || sha256(convert_to('k2' || sha, 'UTF8')),
    1, %(token)s, at, i, (at + interval '10 years')::date, true, at
FROM big
"""

_INGEST = """
INSERT INTO ingest.submission (tenant, message_id, invoice_id, state, sha256, invoice_number,
    received_at, forwarded_at)
SELECT tenant, 'big-' || i, invoice_id, 'accepted', sha, 'BIG-' || lpad(i::text, 9, '0'), at, at
FROM big;
INSERT INTO ingest.invoice_key (seller_key, invoice_number, invoice_id)
SELECT left(tenant, 9), 'BIG-' || lpad(i::text, 9, '0'), invoice_id FROM big;
"""

_METERING = """
INSERT INTO metering.counted (invoice_id, tenant, archived_at, period_start)
SELECT b.invoice_id, b.tenant, b.at, p.period_start
FROM big b JOIN bench_period p ON p.tenant = b.tenant
    AND p.day = (b.at AT TIME ZONE 'Europe/Paris')::date;
INSERT INTO metering.period_count (tenant, period_start, period_end, count)
SELECT c.tenant, c.period_start, (SELECT min(p.period_end) FROM bench_period p
    WHERE p.tenant = c.tenant AND p.period_start = c.period_start), c.n
FROM (SELECT tenant, period_start, count(*) AS n FROM metering.counted
      GROUP BY tenant, period_start) AS c
ON CONFLICT (tenant, period_start) DO UPDATE SET count = metering.period_count.count
    + EXCLUDED.count;
INSERT INTO metering.tenant_count (tenant, stored, cumulative)
SELECT tenant, count(*), count(*) FROM big GROUP BY tenant
ON CONFLICT (tenant) DO UPDATE SET stored = metering.tenant_count.stored + EXCLUDED.stored,
    cumulative = metering.tenant_count.cumulative + EXCLUDED.cumulative;
"""

_TRANSMIT = """
INSERT INTO transmit.transmission (invoice_id, tenant, state, attempts, round_attempts, flow_id,
    created_at, updated_at)
SELECT invoice_id, tenant, 'accepted', 1, 1, 'big-flow-' || i, at, at FROM big
"""

_ANALYZE = ("archive.invoice", "archive.log_leaf", "archive.log_node", "archive.log_checkpoint",
            "ingest.submission", "ingest.invoice_key", "metering.counted",
            "transmit.transmission")


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


def fill(database_url: str, data_dir: Path, tenants: list[str], entries: int, *,
         end: datetime | None = None, span: timedelta = timedelta(days=30),
         subscribed_on: date = date(2026, 1, 1), checkpoint_every: int = 10_000,
         tag: str = "bench", progress: Callable[[str, int, int], None] | None = None) -> Filled:
    """Fill the (empty, migrated) archive of ``database_url`` with ``entries`` entries spread
    over ``tenants`` and over ``span`` ending at ``end`` (default: now). ``data_dir`` is the
    archive's ``EFACTURE_DATA_DIR`` (its log key signs the checkpoints). The tenants are
    registered (sandbox, ``subscribed_on``) if they are not yet."""
    import os

    from shared import tenants as tenant_registry

    if entries < 1 or not tenants:
        raise ValueError("fill needs at least one entry and one tenant")
    began = time.monotonic()
    start = (end or datetime.now(UTC)) - span
    steps = ["leaves", "tree", "catalogue", "ingest", "metering", "transmit", "checkpoints"]

    def step(name: str) -> None:
        if progress:
            progress("big archive", steps.index(name), len(steps))

    with psycopg.connect(database_url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        cpu_before = _cpu_seconds(backend[0]) if backend else None
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        row = conn.execute("SELECT count(*) FROM (SELECT 1 FROM archive.log_leaf LIMIT 1) x"
                           ).fetchone()
        if row and row[0]:
            raise RuntimeError("the archive's log is not empty: a big archive fills a fresh one")
        for siret in tenants:
            tenant_registry.add(conn, siret, f"bench {siret}", subscribed_on, True)
        conn.execute("CREATE TEMP TABLE bench_period (tenant text, day date, period_start date,"
                     " period_end date) ON COMMIT DROP")
        with conn.cursor().copy("COPY bench_period FROM STDIN") as copy:
            for record in _periods(tenants, subscribed_on, start, span):
                copy.write_row(record)
        params = {"tag": tag, "tenants": tenants, "nt": len(tenants), "n": entries,
                  "start": start.replace(microsecond=0), "span": int(span.total_seconds()),
                  "token": os.urandom(TOKEN_BYTES)}
        step("leaves")
        conn.execute(_BIG, params)
        conn.execute(_LEAVES)
        conn.execute("INSERT INTO archive.log_leaf (idx, hash, data)"
                     " SELECT idx, hash, data FROM lvl")
        step("tree")
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
            conn.execute("ANALYZE lvl")
            level += 1
        step("catalogue")
        conn.execute(_CATALOGUE, params)
        step("ingest")
        conn.execute(_INGEST)
        step("metering")
        conn.execute(_METERING)
        step("transmit")
        conn.execute(_TRANSMIT)
        conn.commit()
        conn.autocommit = True
        for table in _ANALYZE:
            conn.execute(f"ANALYZE {table}")
        cpu_after = _cpu_seconds(backend[0]) if backend else None
    step("checkpoints")
    count = asyncio.run(_checkpoints(database_url, data_dir, entries, checkpoint_every, start,
                                     span))
    if progress:
        progress("big archive", len(steps), len(steps))
    cpu = (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None
    return Filled(entries, count, time.monotonic() - began, nodes, cpu)
