"""A real local SMTP server for tests (aiosmtpd in a thread) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.infra import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.cond:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg)  # type: ignore[arg-type]
            )
            self.cond.notify_all()
        return "250 Message accepted"


class SmtpSink:
    """``with SmtpSink() as smtp:`` → ``smtp.url`` for ``EFACTURE_SMTP_URL``, ``smtp.received``.

    ``credentials=(user, password)`` requires AUTH (allowed without TLS, for tests only);
    ``tls_context`` offers STARTTLS.
    """

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        hostname: str = "127.0.0.1",
    ) -> None:
        self.port = free_port()
        self.hostname = hostname
        self.handler = _Handler()
        self.credentials = credentials
        kwargs: dict[str, Any] = {}
        if credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname=hostname, **kwargs)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self.credentials is not None
              and auth_data.login.decode() == self.credentials[0]
              and auth_data.password.decode() == self.credentials[1])
        return AuthResult(success=ok, handled=False)

    @property
    def url(self) -> str:
        return f"smtp://{self.hostname}:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.cond:
            return list(self.handler.received)

    def refuse(self, address: str) -> None:
        self.handler.refuse.add(address)

    def wait_for(self, predicate: Callable[[list[Received]], bool],
                 timeout: float = 60.0) -> list[Received]:
        """Block until ``predicate(received)`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.handler.cond:
            while not predicate(self.handler.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [str(r.message["Subject"]) for r in self.handler.received]
                    raise AssertionError(f"SMTP sink: condition not met; got {got}")
                self.handler.cond.wait(min(left, 0.5))
            return list(self.handler.received)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
