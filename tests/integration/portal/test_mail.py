"""The portal's mailer against a real SMTP server (aiosmtpd), and in ``.eml`` file mode."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.portal.adapters.mailer import Mailer, MailPermanentError, MailTemporaryError
from shared.settings import Settings
from tests.support.infra import free_port
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

TEXT = "Bonjour,\n\nUne nouvelle facture est disponible : https://portail.example/x\n"


def _settings(tmp_path: Path, smtp_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path, smtp_url=smtp_url, mail_from="factures@efacture.test")


def test_smtp_plain_and_html_parts_in_french(tmp_path: Path) -> None:
    with SmtpSink() as smtp:
        mailer = Mailer(_settings(tmp_path, smtp.url))
        asyncio.run(mailer.send("client@example.fr", "Nouvelle facture disponible", TEXT,
                                html="<p>Une nouvelle facture est disponible</p>",
                                message_id="<notify-1@efacture.test>"))
        [got] = smtp.wait_for(lambda r: len(r) == 1)
    assert got.rcpt_tos == ["client@example.fr"]
    assert got.mail_from == "factures@efacture.test"
    msg = got.message
    assert msg["From"] == "factures@efacture.test"
    assert msg["Subject"] == "Nouvelle facture disponible"
    assert msg["Message-ID"] == "<notify-1@efacture.test>"
    assert msg["Content-Language"] == "fr"
    assert got.text.replace("\r\n", "\n") == TEXT
    html = msg.get_body(preferencelist=("html",))
    assert html is not None
    assert "nouvelle facture" in html.get_content()
    assert not list(tmp_path.glob("mail/*.eml"))  # SMTP mode writes no file


def test_smtp_with_credentials(tmp_path: Path) -> None:
    with SmtpSink(credentials=("portail", "s3cr3t:/@")) as smtp:
        good = f"smtp://portail:s3cr3t%3A%2F%40@127.0.0.1:{smtp.port}"
        asyncio.run(Mailer(_settings(tmp_path, good)).send("a@example.fr", "Objet", TEXT))
        smtp.wait_for(lambda r: len(r) == 1)
        bad = f"smtp://portail:wrong@127.0.0.1:{smtp.port}"
        with pytest.raises(MailPermanentError):
            asyncio.run(Mailer(_settings(tmp_path, bad)).send("a@example.fr", "Objet", TEXT))
    assert len(smtp.received) == 1


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=36500))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = tmp_path / "smtp-cert.pem"
    key_pem = tmp_path / "smtp-key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_pem, key_pem)
    return ctx, cert_pem


def test_starttls_used_when_offered_and_certificate_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, cert_pem = _self_signed(tmp_path)
    # The sink requires STARTTLS before MAIL: delivery proves the client upgraded.
    with SmtpSink(tls_context=ctx) as smtp:
        with pytest.raises(MailTemporaryError):  # self-signed, not trusted: refused
            asyncio.run(Mailer(_settings(tmp_path, smtp.url)).send("a@example.fr", "O", TEXT))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_pem))  # now trusted
        asyncio.run(Mailer(_settings(tmp_path, smtp.url)).send("a@example.fr", "O", TEXT))
        smtp.wait_for(lambda r: len(r) == 1)


def test_refused_recipient_is_permanent_unreachable_is_temporary(tmp_path: Path) -> None:
    with SmtpSink() as smtp:
        smtp.refuse("nobody@example.fr")
        with pytest.raises(MailPermanentError):
            asyncio.run(Mailer(_settings(tmp_path, smtp.url)).send("nobody@example.fr", "O", TEXT))
    url = f"smtp://127.0.0.1:{free_port()}"
    with pytest.raises(MailTemporaryError):
        asyncio.run(Mailer(_settings(tmp_path, url)).send("a@example.fr", "O", TEXT))


def test_eml_file_mode_atomic_private_and_idempotent_per_message_id(tmp_path: Path) -> None:
    mailer = Mailer(_settings(tmp_path, None))
    asyncio.run(mailer.send("client@example.fr", "Nouvelle facture disponible", TEXT,
                            message_id="<n-1@efacture.test>"))
    asyncio.run(mailer.send("client@example.fr", "Nouvelle facture disponible", TEXT,
                            message_id="<n-1@efacture.test>"))
    asyncio.run(mailer.send("autre@example.fr", "Connexion", TEXT))
    files = sorted((tmp_path / "mail").iterdir())
    assert len(files) == 2
    assert all(f.suffix == ".eml" for f in files)
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    msgs = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    by_to = {str(m["To"]): m for m in msgs}
    assert by_to["client@example.fr"]["Message-ID"] == "<n-1@efacture.test>"
    body = by_to["client@example.fr"].get_body(preferencelist=("plain",))
    assert body is not None
    assert "nouvelle facture" in body.get_content()


def test_header_injection_refused(tmp_path: Path) -> None:
    mailer = Mailer(_settings(tmp_path, None))
    with pytest.raises(ValueError, match="one line"):
        asyncio.run(mailer.send("a@example.fr\r\nBcc: x@evil.test", "O", TEXT))
    with pytest.raises(ValueError, match="one line"):
        asyncio.run(mailer.send("a@example.fr", "O\nBcc: x@evil.test", TEXT))
