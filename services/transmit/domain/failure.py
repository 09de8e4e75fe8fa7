"""What an answer of the PA's Flow Service means for the transmission (contract section 5).

Pure classification, so the retry policy is decided in one place and unit-tested without a
network. The adapter feeds it the status code, the decoded error body and the
``Retry-After`` header; transport failures are classified by :func:`transport_failure`.

- 2xx → :attr:`Outcome.OK`.
- 409 with ``errorCode`` ``AlreadyExistingFlow`` → :attr:`Outcome.ALREADY_EXISTS` (the PA
  holds the flow already: success, never upload again).
- 401 → :attr:`Outcome.UNAUTHORIZED` (the caller refreshes its token once and retries; a
  second 401 is :func:`unauthorized_after_refresh`, permanent).
- 400/413/422, and any other 4xx not listed here → :class:`PermanentError`
  ``code="pa-refused-<status>"`` carrying the PA's ``errorCode``/``errorMessage``.
- 408, 425, 429 and 5xx → :class:`RetryableError` (429 and 503 honour ``Retry-After``).
- anything else (1xx/3xx: a proxy in the way) → :class:`RetryableError`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from shared.errors import PermanentError, RetryableError

ALREADY_EXISTING_FLOW = "AlreadyExistingFlow"
_RETRYABLE_4XX = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S = 3600.0  # a longer Retry-After is read as one hour


class Outcome(enum.Enum):
    """A non-failing answer: what the caller does next."""

    OK = "ok"
    ALREADY_EXISTS = "already-exists"
    UNAUTHORIZED = "unauthorized"


class PaRefusal(PermanentError):
    """The PA refused the request for good (400/413/422 …); ``error_code`` is the PA's own."""

    def __init__(self, message: str, *, status: int, error_code: str | None) -> None:
        super().__init__(message, code=f"pa-refused-{status}")
        self.status = status
        self.error_code = error_code


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), at most
    :data:`MAX_RETRY_AFTER_S`.

    ``now`` (aware) is required to interpret an HTTP-date; a past date gives 0. An absent or
    unparseable header gives ``None``, and so does a non-finite number (``inf``, ``nan``).
    The cap matters: the transmission waits out the delay without spending an attempt, so a
    platform asking for years (or ``inf``, which no AMQP header can carry) would park the
    invoice forever or crash every delivery of it.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return min(max(0.0, seconds), MAX_RETRY_AFTER_S) if math.isfinite(seconds) else None
    if now is None:
        return None
    try:
        when = parsedate_to_datetime(text)
        delta = (when - now).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(0.0, delta), MAX_RETRY_AFTER_S)


def _error_fields(body: Mapping[str, Any] | None) -> tuple[str | None, str]:
    if not body:
        return None, ""
    code = body.get("errorCode")
    message = body.get("errorMessage")
    return (str(code) if code is not None else None), (str(message) if message else "")


def classify(
    status: int,
    body: Mapping[str, Any] | None = None,
    *,
    retry_after: float | None = None,
) -> Outcome:
    """Classify one HTTP answer of the Flow Service; raise when it is a failure.

    ``body`` is the decoded JSON error body (``{"errorCode", "errorMessage"}``) if any,
    ``retry_after`` the parsed ``Retry-After`` in seconds.

    Raises :class:`PaRefusal` (a :class:`PermanentError`) or :class:`RetryableError`.
    """
    error_code, error_message = _error_fields(body)
    detail = f"{error_code}: {error_message}" if error_code else error_message or "no detail"
    if 200 <= status < 300:
        return Outcome.OK
    if status == 409 and error_code == ALREADY_EXISTING_FLOW:
        return Outcome.ALREADY_EXISTS
    if status == 401:
        return Outcome.UNAUTHORIZED
    if status in _RETRYABLE_4XX:
        raise RetryableError(
            f"PA answered {status} ({detail})", code=f"pa-{status}", retry_after=retry_after
        )
    if 400 <= status < 500:
        raise PaRefusal(f"PA refused with {status} ({detail})", status=status,
                        error_code=error_code)
    if status >= 500:
        raise RetryableError(
            f"PA unavailable: {status} ({detail})", code=f"pa-{status}", retry_after=retry_after
        )
    raise RetryableError(f"unexpected PA answer {status} ({detail})", code=f"pa-{status}")


def unauthorized_after_refresh() -> PermanentError:
    """A 401 with a freshly issued token: the credentials are wrong, retrying cannot help.

    Permanent so the transmission is dead-lettered at once; the operator fixes the
    credentials (``tenant set-credentials``) and replays.
    """
    return PermanentError("PA refused a freshly issued token (401)", code="pa-unauthorized")


def token_refused(status: int, body: Mapping[str, Any] | None = None) -> PermanentError:
    """The token endpoint refused the tenant's client credentials (400/401/403)."""
    error = (body or {}).get("error") or (body or {}).get("errorCode") or "no detail"
    return PermanentError(
        f"PA token endpoint refused the client credentials with {status} ({error})",
        code="pa-unauthorized",
    )


def transport_failure(kind: str, detail: str = "") -> RetryableError:
    """A timeout or connection failure (``kind``: ``timeout``, ``connect``, ``protocol``)."""
    suffix = f": {detail}" if detail else ""
    return RetryableError(f"PA unreachable ({kind}){suffix}", code=f"pa-{kind}")
