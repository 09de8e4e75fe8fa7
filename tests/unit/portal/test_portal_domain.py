"""Portal pure parts: TOTP reuse refusal, recovery codes, password rules, logo sanitising.

(The billing-period rule the portal shows is metering's own, ``shared.billing``.)"""

from __future__ import annotations

import base64
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from services.portal.auth import passwords, recovery, totp
from services.portal.domain import logo

pytestmark = pytest.mark.unit


NOW = datetime(2026, 11, 20, 9, 0, 10, tzinfo=UTC)


def test_totp_accepts_a_code_once_per_step() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(NOW)
    step = totp.verify(secret, code, NOW, None)
    assert step == totp.step_of(NOW)
    assert totp.verify(secret, code, NOW, step) is None  # reused in its step
    later = NOW + timedelta(seconds=30)
    assert totp.verify(secret, pyotp.TOTP(secret).at(later), later, step) == step + 1
    assert totp.verify(secret, code, NOW + timedelta(seconds=90), None) is None  # too old
    assert totp.verify(secret, "12345", NOW, None) is None
    assert totp.verify(secret, "abcdef", NOW, None) is None


def test_otpauth_uri_and_qr() -> None:
    secret = totp.new_secret()
    uri = totp.uri(secret, "a@example.org")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={secret}" in uri
    qr = totp.qr_data_uri(uri)
    assert qr.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(qr.split(",", 1)[1])
    assert b'xmlns="http://www.w3.org/2000/svg"' in svg  # else an <img> draws nothing


def test_recovery_codes() -> None:
    codes = recovery.generate()
    assert len(set(codes)) == 10
    assert all(recovery.looks_like(c) for c in codes)
    assert recovery.digest(codes[0].upper().replace("-", " ")) == recovery.digest(codes[0])
    assert not recovery.looks_like("123456")


def test_passwords() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "wrong")
    assert not passwords.verify(None, "anything")
    assert passwords.problem("short", "short") is not None
    assert passwords.problem("long enough pw", "long enough pX") is not None
    assert passwords.problem("long enough pw", "long enough pw") is None


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"tEXt", b"Comment\0secret metadata") + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b"") + b"trailing garbage")


def test_png_is_re_encoded() -> None:
    out, media = logo.sanitise(_png())
    assert media == "image/png"
    assert out.startswith(b"\x89PNG")
    assert b"secret metadata" not in out
    assert b"trailing garbage" not in out


def test_svg_keeps_shapes_drops_active_content() -> None:
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
           b' onload="x()"><script>x()</script><foreignObject><p>x</p></foreignObject>'
           b'<a href="javascript:x()"><rect width="1" height="1"/></a>'
           b'<rect width="5" height="5" style="fill:url(https://e.example/)" fill="#f00"/>'
           b'<use xlink:href="https://e.example/x.svg#a"/><use href="#local"/></svg>')
    out, media = logo.sanitise(svg)
    assert media == "image/svg+xml"
    for bad in (b"script", b"onload", b"foreignObject", b"javascript", b"e.example", b"style"):
        assert bad not in out
    assert b'fill="#f00"' in out
    assert b'href="#local"' in out


@pytest.mark.parametrize("data", [
    b"GIF89a....", b"<svg", b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg/>',
    b"<html><svg/></html>", b"\x89PNG\r\n\x1a\nbroken", b"<svg>" + b" " * (600 * 1024),
])
def test_refused_logos(data: bytes) -> None:
    with pytest.raises(logo.LogoError):
        logo.sanitise(data)


@pytest.mark.parametrize(("header", "lang"), [
    (None, "fr"), ("", "fr"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("fr-FR,en;q=0.8", "fr"),
    ("de-DE,en;q=0.5", "en"), ("de-DE", "fr"), ("en;q=0.4,fr;q=0.6", "fr"), ("en;q=abc", "fr"),
])
def test_language(header: str | None, lang: str) -> None:
    from services.portal.web.i18n import language

    assert language(header) == lang


def test_totp_secret_box() -> None:
    import uuid

    from services.portal.auth.secret_box import SecretBox
    from shared.vault.master_key import MasterKey

    old = MasterKey(b"\x01" * 32)
    box, rotated, other = (SecretBox(old), SecretBox(MasterKey(b"\x02" * 32, previous=old)),
                           SecretBox(MasterKey(b"\x03" * 32)))
    account = uuid.uuid4()
    sealed = box.seal("JBSWY3DPEHPK3PXPJBSWY3DP", account)
    assert "JBSWY3DP" not in sealed
    assert box.open(sealed, account) == "JBSWY3DPEHPK3PXPJBSWY3DP"
    assert rotated.open(sealed, account) == "JBSWY3DPEHPK3PXPJBSWY3DP"  # previous key held
    for bad_box, who in ((other, account), (box, uuid.uuid4())):
        with pytest.raises(LookupError):
            bad_box.open(sealed, who)
