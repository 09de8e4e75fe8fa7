"""Passwords: argon2id hashes (argon2-cffi), and a dummy verification for unknown accounts.

An unknown address, a locked account and a wrong password all cost one argon2 verification,
so the time of an answer does not tell whether an account exists.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes anything; a megabyte "password" would only cost CPU

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
_DUMMY = _hasher.hash("efacture-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with ``stored`` None, burns the same time."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    try:
        if stored is None:
            _hasher.verify(_DUMMY, password)
            return False
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def problem(password: str, confirm: str) -> str | None:
    """Why a new password is refused (French sentence), or None."""
    if password != confirm:
        return "Les deux mots de passe ne sont pas identiques."
    if len(password) < MIN_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
    if len(password) > MAX_LENGTH:
        return f"Le mot de passe doit compter au plus {MAX_LENGTH} caractères."
    return None
