"""The Merkle tree math agrees with a naive RFC 6962 implementation for every size 1..70."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.archive.domain import merkle
from services.archive.domain.merkle_proof import verify_consistency, verify_inclusion

pytestmark = pytest.mark.unit

MAX = 70


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


LEAVES = [b"leaf-%d" % i for i in range(MAX)]


def test_leaf_and_node_hashes_use_rfc_9162_prefixes() -> None:
    assert merkle.leaf_hash(b"x") == _h(b"\x00x")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == _h(b"\x01" + b"a" * 32 + b"b" * 32)


def test_root_matches_the_naive_tree_for_every_size() -> None:
    for n in range(MAX + 1):
        assert merkle.root_from_leaves(LEAVES[:n]) == naive_mth(LEAVES[:n]), n


def test_inclusion_paths_match_and_verify_for_every_leaf_of_every_size() -> None:
    for n in range(1, MAX + 1):
        d = LEAVES[:n]
        root = naive_mth(d)
        for m in range(n):
            path = merkle.inclusion_path(d, m)
            assert path == naive_path(m, d), (m, n)
            assert verify_inclusion(merkle.leaf_hash(d[m]), m, n, path, root)
            assert not verify_inclusion(merkle.leaf_hash(b"other"), m, n, path, root)
            if n > 1:
                assert not verify_inclusion(merkle.leaf_hash(d[m]), (m + 1) % n, n, path, root)


def test_consistency_proofs_match_and_verify_for_every_pair_of_sizes() -> None:
    for n in range(1, MAX + 1):
        d = LEAVES[:n]
        new_root = naive_mth(d)
        for m in range(0, n + 1):
            path = merkle.consistency_path(d, m)
            expected = [] if m in (0, n) else naive_subproof(m, d, True)
            assert path == expected, (m, n)
            old_root = naive_mth(d[:m])
            assert verify_consistency(m, n, old_root, new_root, path), (m, n)
            if 0 < m < n:
                assert not verify_consistency(m, n, _h(b"forged"), new_root, path)
                assert not verify_consistency(m, n, old_root, _h(b"forged"), path)
                assert not verify_consistency(m, n, old_root, new_root, path[:-1])


def test_append_builds_every_complete_subtree_incrementally() -> None:
    stored: dict[tuple[int, int], bytes] = {}
    size = 0
    for batch in (1, 2, 5, 1, 13, 8, 40):
        front = [(node, stored[node]) for node in merkle.frontier(size)]
        new = [merkle.leaf_hash(x) for x in LEAVES[size : size + batch]]
        for node, h in merkle.extend(front, size, new):
            assert node not in stored
            stored[node] = h
        size += batch
        root = merkle.fold_subtrees([stored[nd] for nd in merkle.frontier(size)])
        assert root == naive_mth(LEAVES[:size])
    assert len(stored) == 2 * size - bin(size).count("1")


def test_proofs_need_logarithmically_many_stored_subtrees() -> None:
    size = 1_000_003
    for index in (0, 1, 524_287, 999_999, size - 1):
        assert len(merkle.nodes_for(merkle.inclusion_ranges(index, size))) <= 2 * 21
    assert len(merkle.nodes_for(merkle.consistency_ranges(777_777, size))) <= 2 * 21


@given(st.integers(1, 200), st.data())
def test_forged_path_hash_never_verifies(n: int, data: st.DataObject) -> None:
    d = [b"%d" % i for i in range(n)]
    m = data.draw(st.integers(0, n - 1))
    path = merkle.inclusion_path(d, m)
    root = merkle.root_from_leaves(d)
    if path:
        i = data.draw(st.integers(0, len(path) - 1))
        forged = [*path[:i], _h(path[i]), *path[i + 1 :]]
        assert not verify_inclusion(merkle.leaf_hash(d[m]), m, n, forged, root)
    assert not verify_inclusion(merkle.leaf_hash(d[m]), m, n, [*path, root], root)
