"""The portal's TLS: the configured certificate, else a self-signed one made once in the data
directory (``<data_dir>/portal-tls/``); TLS 1.2 at least.

:func:`ensure_certificate` returns the paths and the certificate's SHA-256 fingerprint, which
``efacture serve portal`` prints so that a first user can check what the browser shows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.settings import Settings


def _self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "efacture (self-signed)")])
    alt: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost"),
                                   x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    with contextlib.suppress(ValueError):  # a host name, not an address
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    tmp_key = key_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.replace(tmp_key, key_path)
    tmp_cert = cert_path.with_suffix(".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path


def ensure_certificate(settings: Settings) -> tuple[Path, Path, str]:
    """(certificate chain, key, SHA-256 fingerprint of the leaf as AA:BB:…)."""
    if settings.tls_cert and settings.tls_key:
        cert_path, key_path = Path(settings.tls_cert), Path(settings.tls_key)
    else:
        host = urlsplit(settings.portal_url).hostname or "localhost"
        cert_path, key_path = _self_signed(Path(settings.data_dir) / "portal-tls", host)
    leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    digest = leaf.fingerprint(hashes.SHA256()).hex().upper()
    return cert_path, key_path, ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def listen_address(settings: Settings) -> tuple[str, int]:
    parts = urlsplit(settings.portal_url)
    if parts.scheme != "https":
        raise ValueError("EFACTURE_PORTAL_URL must be an https:// URL (the portal is HTTPS only)")
    return parts.hostname or "localhost", parts.port or 443


def minimum_version() -> ssl.TLSVersion:
    return ssl.TLSVersion.TLSv1_2
