"""Verification of RFC 9162 inclusion and consistency proofs (sections 2.1.3.2 and 2.1.4.2).

Pure functions that return False rather than raise for any malformed or wrong proof, so a
verifier can turn the answer into one sentence. Both run in O(len(path)) hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.archive.domain.merkle import HASH_SIZE, empty_root, node_hash


def _well_formed(hashes: Sequence[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``path`` proves the leaf with ``leaf_hash`` at ``index`` is in ``root``."""
    if not 0 <= index < size or not _well_formed([leaf_hash, root, *path]):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """True iff ``path`` proves the tree of ``old_size`` is a prefix of that of ``new_size``."""
    if not 0 <= old_size <= new_size or not _well_formed([old_root, new_root, *path]):
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path and old_root == empty_root()
    if not path:
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
