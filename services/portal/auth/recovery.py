"""Ten single-use recovery codes, shown once, stored as SHA-256 (60 random bits each)."""

from __future__ import annotations

import hashlib
import secrets

COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def generate() -> list[str]:
    codes = []
    for _ in range(COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalise(code: str) -> str:
    raw = "".join(c for c in code.lower() if c.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def looks_like(code: str) -> bool:
    return len("".join(c for c in code if c.isalnum())) == 12


def digest(code: str) -> bytes:
    return hashlib.sha256(normalise(code).encode()).digest()
