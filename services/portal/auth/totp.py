"""TOTP second factor (RFC 6238: SHA-1, 30 s, 6 digits) against an injected clock.

A code is accepted for the current step or one step either side (clock drift), and only for a
step later than the last one accepted for the account: a code already used in its time step is
refused (contract v2 section 7).
"""

from __future__ import annotations

import base64
import hmac
import io
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
ISSUER = "efacture"


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits


def uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(otpauth: str) -> str:
    """The QR code of ``otpauth`` as an SVG data URI (no script, shown in an <img>)."""
    # A standalone SVG (with its xmlns): svg_inline() omits it, and an <img> then draws nothing.
    svg = io.BytesIO()
    segno.make(otpauth, error="m").save(svg, kind="svg", scale=4, dark="#000", light="#fff",
                                        xmldecl=False, nl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def verify(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The step ``code`` belongs to when it is valid and not reused, else None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = step_of(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            if last_step is not None and step <= last_step:
                return None
            return step
    return None
