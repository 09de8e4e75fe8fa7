"""Minimal DER writing (definite lengths only), for the fixed outer layers of a token."""

from __future__ import annotations


def length(size: int) -> bytes:
    """DER length octets for a content of ``size`` bytes (short form below 128)."""
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, content: bytes) -> bytes:
    """One element: single-byte ``tag`` (class, constructed bit, number < 31), length, value."""
    return bytes([tag]) + length(len(content)) + content


def retag(tag: int, element: bytes) -> bytes:
    """``element`` with its single-byte tag replaced: IMPLICIT tagging of an encoded element."""
    return bytes([tag]) + element[1:]
