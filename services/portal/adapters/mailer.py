"""The portal's e-mail: real SMTP when ``EFACTURE_SMTP_URL`` is set, ``.eml`` files otherwise.

Contract v2 section 1: ``smtp://[user:password@]host:port`` (STARTTLS when the server offers
it, certificate verified) or ``smtps://[user:password@]host:port`` (implicit TLS); unset, each
message is written to ``EFACTURE_DATA_DIR/mail/`` as one ``.eml`` file (atomic rename, mode
0600), which is how a first run or a test reads the links it would have received.

Every message is French (``Content-Language: fr``), has a ``text/plain`` UTF-8 part and, when
given, an HTML alternative; ``From`` is ``EFACTURE_MAIL_FROM``. A caller that may send the same
message twice (the notification outbox after a crash) passes a deterministic ``message_id``: the
duplicate then carries the same ``Message-ID`` (mail clients and servers recognise it) and, in
file mode, overwrites the same ``.eml`` file.

Failures: :class:`MailTemporaryError` (a :class:`RetryableError`: connection refused or lost,
timeouts, 4xx answers) — try again later; :class:`MailPermanentError` (5xx: recipient refused,
authentication rejected) — the same message will never go through.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from shared.errors import PermanentError, RetryableError
from shared.settings import Settings
from shared.vault.safe_files import write_private

SMTP_TIMEOUT_SECONDS = 30.0
_HEADER_UNSAFE = re.compile(r"[\r\n]")


class MailTemporaryError(RetryableError):
    code = "mail-temporary"


class MailPermanentError(PermanentError):
    code = "mail-refused"


def _header(value: str, what: str) -> str:
    # A CR or LF in a header value would let a caller inject headers.
    if _HEADER_UNSAFE.search(value):
        raise ValueError(f"{what} must be one line")
    return value


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """The MIME message (pure apart from the date header and a random id when none given)."""
    msg = EmailMessage()
    msg["From"] = _header(sender, "sender")
    msg["To"] = _header(to, "recipient")
    msg["Subject"] = _header(subject, "subject")
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = _header(message_id, "message_id") if message_id else make_msgid(
        domain=domain
    )
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    # After set_content, which drops every Content-* header.
    msg["Content-Language"] = "fr"
    return msg


class Mailer:
    """Sends the portal's messages (one instance per process; safe to share between tasks)."""

    def __init__(self, settings: Settings) -> None:
        self._sender = settings.mail_from
        self._smtp_url = settings.smtp_url or None
        self._mail_dir = Path(settings.data_dir) / "mail"

    @property
    def mail_dir(self) -> Path:
        """Where ``.eml`` files go when no SMTP server is configured."""
        return self._mail_dir

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """Send one message; returns once the server accepted it (or the file is durable).

        Raises :class:`MailTemporaryError` or :class:`MailPermanentError` (module docstring),
        ``ValueError`` for a header value holding a line break.
        """
        msg = build_message(
            sender=self._sender, to=to, subject=subject, text=text, html=html,
            message_id=message_id,
        )
        if self._smtp_url:
            await self._send_smtp(msg)
        else:
            await asyncio.to_thread(self._write_eml, msg)

    async def _send_smtp(self, msg: EmailMessage) -> None:
        url = urlsplit(self._smtp_url or "")
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise MailPermanentError("EFACTURE_SMTP_URL must be smtp://host:port or smtps://host:port")
        implicit_tls = url.scheme == "smtps"
        port = url.port or (465 if implicit_tls else 25)
        try:
            await aiosmtplib.send(
                msg,
                hostname=url.hostname,
                port=port,
                username=unquote(url.username) if url.username else None,
                password=unquote(url.password) if url.password else None,
                use_tls=implicit_tls,
                # None: STARTTLS when the server offers it, plain otherwise (contract).
                start_tls=False if implicit_tls else None,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise MailTemporaryError(f"SMTP {exc.code}: {exc.message}") from exc
            raise MailPermanentError(f"SMTP {exc.code}: {exc.message}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise MailPermanentError(f"recipient refused: {exc}") from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise MailTemporaryError(f"SMTP server unreachable: {exc}") from exc

    def _write_eml(self, msg: EmailMessage) -> None:
        self._mail_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Named after the Message-ID: a message sent twice lands in the same file.
        name = hashlib.sha256(str(msg["Message-ID"]).encode()).hexdigest()[:32] + ".eml"
        final = self._mail_dir / name
        write_private(final, msg.as_bytes())  # 0600, fsync'd, renamed into place
