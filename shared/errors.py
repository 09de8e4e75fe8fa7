"""The project's only failure vocabulary.

The type of an exception decides the fate of the message that raised it
(after Sentry's arroyo): a :class:`PermanentError` is answered once (a
``rejected`` event, or a dead letter marked permanent) and acked; a
:class:`RetryableError` goes through a delayed retry; anything else is
treated as retryable until the queue's delivery limit dead-letters it.
"""

from __future__ import annotations


class EfactureError(Exception):
    """Base of every error the project raises on purpose."""

    code: str = "internal-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class PermanentError(EfactureError):
    """The input can never succeed: answer it, ack it, never retry it."""

    code = "permanent"


class RetryableError(EfactureError):
    """A dependency failed transiently: try the same message again later."""

    code = "transient"

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
