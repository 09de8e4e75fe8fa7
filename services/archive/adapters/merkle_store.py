"""The Merkle log in PostgreSQL (tables of ``020_log.sql``): appends, roots, proofs, checkpoints.

Every function takes an ``AsyncConnection`` already inside the caller's transaction and never
commits. Appends are serialised by ``pg_advisory_xact_lock(LOG_LOCK)``, held until the caller
commits, so the committed leaves are always a prefix ``[0, n)`` and readers need no lock.
The caller must use READ COMMITTED (PostgreSQL's default) so that the statements after the
lock see the previous appender's commit. Each complete subtree's hash is stored once when it
completes, so roots and proofs read O(log n) rows in one query.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import AsyncConnection

from services.archive.domain import merkle
from services.archive.domain.checkpoint import Checkpoint, sign_checkpoint
from services.archive.domain.leaf import iso_utc
from shared.errors import PermanentError

LOG_LOCK = 7_420_020
"""Advisory lock key serialising appends to the log."""

_SIZE = "SELECT coalesce(max(idx) + 1, 0) FROM archive.log_leaf"

# The size and the frontier (complete subtrees of [0, size)) in one query.
_FRONTIER = """
WITH s AS (SELECT coalesce(max(idx) + 1, 0) AS n FROM archive.log_leaf),
f AS (
    SELECT l AS level, (s.n >> l) - 1 AS idx
    FROM s, generate_series(0, 62) AS l
    WHERE ((s.n >> l) & 1) = 1
)
SELECT s.n, f.level, f.idx, coalesce(nd.hash, lf.hash)
FROM s
LEFT JOIN f ON true
LEFT JOIN archive.log_node nd ON f.level > 0 AND nd.level = f.level AND nd.idx = f.idx
LEFT JOIN archive.log_leaf lf ON f.level = 0 AND lf.idx = f.idx
ORDER BY f.level DESC
"""

_INSERT = """
WITH leaves AS (
    INSERT INTO archive.log_leaf (idx, hash, data)
    SELECT * FROM unnest(%s::bigint[], %s::bytea[], %s::bytea[])
)
INSERT INTO archive.log_node (level, idx, hash)
SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])
"""

_NODES = """
SELECT n.level, n.idx, coalesce(nd.hash, lf.hash)
FROM unnest(%s::smallint[], %s::bigint[]) AS n(level, idx)
LEFT JOIN archive.log_node nd ON n.level > 0 AND nd.level = n.level AND nd.idx = n.idx
LEFT JOIN archive.log_leaf lf ON n.level = 0 AND lf.idx = n.idx
"""

_NODES_AND_LEAF = """
SELECT n.level, n.idx, coalesce(nd.hash, lf.hash)
FROM unnest(%s::smallint[], %s::bigint[]) AS n(level, idx)
LEFT JOIN archive.log_node nd ON n.level > 0 AND nd.level = n.level AND nd.idx = n.idx
LEFT JOIN archive.log_leaf lf ON n.level = 0 AND lf.idx = n.idx
UNION ALL
SELECT -1, idx, data FROM archive.log_leaf WHERE idx = %s
"""

_CHECKPOINT_COLUMNS = "size, root_hash, created_at, signature, key_id"


class LogRangeError(PermanentError):
    """A size or index beyond the log, or an impossible proof request."""

    code = "log-range"


async def append(conn: AsyncConnection, datas: Sequence[bytes]) -> list[int]:
    """Append leaves (their data); returns their indexes, consecutive, in order.

    Three round trips whatever the batch size: lock, frontier, one insert of the leaves and
    of every complete subtree they complete. The lock is held until the caller's transaction
    ends, so batch many leaves per transaction for throughput.
    """
    if not datas:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOG_LOCK,))
    cur = await conn.execute(_FRONTIER)
    rows = await cur.fetchall()
    size = int(rows[0][0])
    frontier = [
        ((int(level), int(idx)), bytes(h)) for _, level, idx, h in rows if level is not None
    ]
    leaf_hashes = [merkle.leaf_hash(d) for d in datas]
    created = [(node, h) for node, h in merkle.extend(frontier, size, leaf_hashes) if node[0] > 0]
    indexes = list(range(size, size + len(datas)))
    await conn.execute(
        _INSERT,
        (
            indexes,
            leaf_hashes,
            [bytes(d) for d in datas],
            [node[0] for node, _ in created],
            [node[1] for node, _ in created],
            [h for _, h in created],
        ),
    )
    return indexes


async def size(conn: AsyncConnection) -> int:
    """Number of leaves committed (and appended by this transaction)."""
    cur = await conn.execute(_SIZE)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _hashes(
    conn: AsyncConnection, ranges: Sequence[merkle.Range], with_leaf: int | None = None
) -> list[bytes]:
    """Hashes of ``ranges`` in one query; with ``with_leaf``, that leaf's data comes along as
    the last element (empty bytes if absent) so a caller saves a round trip."""
    nodes = merkle.nodes_for(ranges)
    params = ([n[0] for n in nodes], [n[1] for n in nodes])
    if with_leaf is None:
        cur = await conn.execute(_NODES, params)
    else:
        cur = await conn.execute(_NODES_AND_LEAF, (*params, with_leaf))
    rows = await cur.fetchall()
    found = {(int(level), int(idx)): h for level, idx, h in rows if level >= 0}
    if any(found.get(n) is None for n in nodes):
        raise LogRangeError("the log does not have that many entries")
    hashes = merkle.hashes_for(ranges, lambda n: bytes(found[n]))
    if with_leaf is not None:
        hashes.append(next((bytes(h) for level, _, h in rows if level < 0), b""))
    return hashes


async def root(conn: AsyncConnection, size: int) -> bytes:
    """Root hash of the first ``size`` leaves. Raises LogRangeError beyond the log."""
    if size == 0:
        return merkle.empty_root()
    if size < 0:
        raise LogRangeError(f"negative tree size {size}")
    return (await _hashes(conn, [(0, size)]))[0]


async def inclusion_proof(conn: AsyncConnection, index: int, size: int) -> list[bytes]:
    """Inclusion path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1)."""
    try:
        ranges = merkle.inclusion_ranges(index, size)
    except ValueError as exc:
        raise LogRangeError(str(exc)) from exc
    return await _hashes(conn, ranges)


async def consistency_proof(conn: AsyncConnection, old_size: int, new_size: int) -> list[bytes]:
    """Consistency proof between two tree sizes (RFC 9162 2.1.4.1)."""
    try:
        ranges = merkle.consistency_ranges(old_size, new_size)
    except ValueError as exc:
        raise LogRangeError(str(exc)) from exc
    return await _hashes(conn, ranges)


class InclusionEvidence(NamedTuple):
    """What a proof bundle needs from the log for one entry."""

    checkpoint: Checkpoint
    leaf_data: bytes
    path: list[bytes]


async def inclusion_evidence(conn: AsyncConnection, index: int) -> InclusionEvidence | None:
    """The first checkpoint covering leaf ``index``, the leaf's data and its inclusion path
    to that checkpoint, in two round trips; None while no checkpoint covers the leaf yet."""
    cp = await checkpoint_covering(conn, index)
    if cp is None or index < 0:
        return None
    *path, data = await _hashes(conn, merkle.inclusion_ranges(index, cp.size), with_leaf=index)
    return InclusionEvidence(checkpoint=cp, leaf_data=data, path=path)


async def leaf(conn: AsyncConnection, index: int) -> bytes | None:
    """The data of leaf ``index``, or None if there is none."""
    cur = await conn.execute("SELECT data FROM archive.log_leaf WHERE idx = %s", (index,))
    row = await cur.fetchone()
    return bytes(row[0]) if row else None


def _checkpoint(row: tuple[int, bytes, datetime, bytes, str]) -> Checkpoint:
    size_, root_hash, created_at, signature, key_id = row
    return Checkpoint(
        size=int(size_),
        root_hash=bytes(root_hash).hex(),
        timestamp=iso_utc(created_at),
        signature=base64.b64encode(bytes(signature)).decode(),
        key_id=key_id,
    )


async def _one_checkpoint(
    conn: AsyncConnection, where: str, params: tuple[int, ...]
) -> Checkpoint | None:
    cur = await conn.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM archive.log_checkpoint {where}",  # noqa: S608
        params,
    )
    row = await cur.fetchone()
    return _checkpoint(row) if row else None


async def latest_checkpoint(conn: AsyncConnection) -> Checkpoint | None:
    """The checkpoint of the largest size, or None before the first one."""
    return await _one_checkpoint(conn, "ORDER BY size DESC LIMIT 1", ())


async def checkpoint_covering(conn: AsyncConnection, index: int) -> Checkpoint | None:
    """The first checkpoint that includes leaf ``index`` (size > index), or None yet."""
    return await _one_checkpoint(conn, "WHERE size > %s ORDER BY size LIMIT 1", (index,))


async def checkpoint_at(conn: AsyncConnection, size: int) -> Checkpoint | None:
    """The checkpoint of exactly ``size`` leaves, if one was signed."""
    return await _one_checkpoint(conn, "WHERE size = %s", (size,))


async def checkpoint(
    conn: AsyncConnection, signer: Ed25519PrivateKey, now: datetime | None = None
) -> Checkpoint | None:
    """Sign and store a checkpoint of the current size if the log grew since the last one.

    Returns the new checkpoint, or None when there was nothing new (or a concurrent caller
    stored the same size first). ``now`` defaults to the current time.
    """
    current = await size(conn)
    latest = await latest_checkpoint(conn)
    if current == 0 or (latest is not None and latest.size >= current):
        return None
    signed = sign_checkpoint(signer, current, await root(conn, current), now or datetime.now(UTC))
    cur = await conn.execute(
        "INSERT INTO archive.log_checkpoint (size, root_hash, created_at, signature, key_id)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (size) DO NOTHING RETURNING size",
        (
            signed.size,
            signed.root,
            signed.time,
            base64.b64decode(signed.signature),
            signed.key_id,
        ),
    )
    return signed if await cur.fetchone() else None
