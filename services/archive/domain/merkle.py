"""RFC 9162 Merkle tree math: hashing, tree shape, proof plans and proof verification.

Pure functions, no I/O. The tree over leaves ``D[0:n]`` has the RFC 9162 / RFC 6962 shape:
``MTH(D[n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` with ``k`` the largest power of two
below ``n``. Every subtree that a proof or a root needs is an *aligned range* and is the
right fold of at most ``log2(n)`` complete (perfect) subtrees, each named by a
:data:`NodeId` ``(level, index)`` covering leaves ``[index << level, (index + 1) << level)``.
A store that keeps the hash of every complete subtree therefore answers any root or proof
by reading O(log n) hashes: :func:`inclusion_ranges` / :func:`consistency_ranges` say which
ranges, :func:`perfect_subtrees` which nodes, and :func:`fold_subtrees` combines them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

NodeId = tuple[int, int]
"""A complete subtree: ``(level, index)``; level 0 is a single leaf."""

Range = tuple[int, int]
"""Leaves ``[lo, hi)`` of an aligned subtree of the RFC 9162 shape."""

HASH_SIZE = 32


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)`` (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)`` (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    """The root of the empty tree: ``SHA-256("")``."""
    return hashlib.sha256(b"").digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(lo: int, hi: int) -> list[NodeId]:
    """Complete subtrees making up the aligned range ``[lo, hi)``, left to right.

    ``lo`` must be a multiple of the power of two at or above ``hi - lo`` (true for every
    range the RFC recursion visits and for every prefix ``[0, n)``); raises ValueError if not.
    """
    if not 0 <= lo < hi:
        raise ValueError(f"empty or negative range [{lo}, {hi})")
    nodes: list[NodeId] = []
    start, remaining = lo, hi - lo
    while remaining:
        level = remaining.bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"range [{lo}, {hi}) is not aligned")
        nodes.append((level, start >> level))
        start += 1 << level
        remaining -= 1 << level
    return nodes


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """Hash of an aligned range from its complete subtrees' hashes (a right fold)."""
    if not hashes:
        raise ValueError("no subtree hashes to fold")
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def frontier(size: int) -> list[NodeId]:
    """Complete subtrees of the prefix ``[0, size)``; what an append must extend."""
    return perfect_subtrees(0, size) if size else []


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Ranges whose hashes form the inclusion path of leaf ``index`` in a tree of ``size``.

    Ordered from the leaf upwards (RFC 6962 section 2.1.1 ``PATH``). Raises ValueError if
    ``index`` is outside the tree.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    out: list[Range] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m = lo + k, m - k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """Ranges whose hashes form the consistency proof from ``old_size`` to ``new_size``.

    RFC 6962 section 2.1.2 ``PROOF``; empty when ``old_size`` is 0 or equals ``new_size``.
    Raises ValueError if ``old_size > new_size`` or a size is negative.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    out: list[Range] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        if m == hi - lo:
            if not complete:
                out.append((lo, hi))
            break
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    out.reverse()
    return out


def nodes_for(ranges: Iterable[Range]) -> list[NodeId]:
    """Every complete subtree the given ranges need, without duplicates."""
    seen: dict[NodeId, None] = {}
    for lo, hi in ranges:
        for node in perfect_subtrees(lo, hi):
            seen[node] = None
    return list(seen)


def hashes_for(ranges: Iterable[Range], lookup: Callable[[NodeId], bytes]) -> list[bytes]:
    """Hash of each range, given the hash of each complete subtree."""
    return [fold_subtrees([lookup(n) for n in perfect_subtrees(lo, hi)]) for lo, hi in ranges]


def extend(
    frontier_hashes: Sequence[tuple[NodeId, bytes]], size: int, new_leaf_hashes: Sequence[bytes]
) -> list[tuple[NodeId, bytes]]:
    """Complete subtrees created by appending leaves to a tree of ``size`` leaves.

    ``frontier_hashes`` are the hashes of :func:`frontier` (``size``). Returns every new
    complete subtree, leaves (level 0) included, in creation order. A binary counter:
    each new leaf merges with equal-level frontier subtrees to its left.
    """
    stack: list[tuple[NodeId, bytes]] = list(frontier_hashes)
    created: list[tuple[NodeId, bytes]] = []
    for offset, h in enumerate(new_leaf_hashes):
        node: tuple[NodeId, bytes] = ((0, size + offset), h)
        created.append(node)
        while stack and stack[-1][0][0] == node[0][0]:
            (level, idx), left = stack.pop()
            node = ((level + 1, idx >> 1), node_hash(left, node[1]))
            created.append(node)
        stack.append(node)
    return created


def _memory_lookup(leaf_datas: Sequence[bytes]) -> Callable[[NodeId], bytes]:
    hashes = [leaf_hash(d) for d in leaf_datas]

    def lookup(node: NodeId) -> bytes:
        level, idx = node
        return fold_subtrees_perfect(hashes[idx << level : (idx + 1) << level])

    return lookup


def fold_subtrees_perfect(leaf_hashes: Sequence[bytes]) -> bytes:
    """Hash of a complete subtree from its leaf hashes (length a power of two)."""
    layer = list(leaf_hashes)
    while len(layer) > 1:
        layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def root_from_leaves(leaf_datas: Sequence[bytes]) -> bytes:
    """Root hash of the tree over the given leaf data (in memory; for tests and tools)."""
    if not leaf_datas:
        return empty_root()
    return hashes_for([(0, len(leaf_datas))], _memory_lookup(leaf_datas))[0]


def inclusion_path(leaf_datas: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion path of leaf ``index`` in the tree over ``leaf_datas`` (in memory)."""
    return hashes_for(inclusion_ranges(index, len(leaf_datas)), _memory_lookup(leaf_datas))


def consistency_path(leaf_datas: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``len(leaf_datas)`` (in memory)."""
    return hashes_for(consistency_ranges(old_size, len(leaf_datas)), _memory_lookup(leaf_datas))
