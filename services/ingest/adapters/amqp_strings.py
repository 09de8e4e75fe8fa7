"""Lenient decoding of AMQP short strings for the consumer of attacker-controlled messages.

pamqp decodes every short-string property (``message_id``, ``content_type``, ``user_id`` …)
and field-table key as strict UTF-8. One ERP message with a non-UTF-8 ``content_type`` then
makes the whole content-header frame undecodable: the connection drops, RabbitMQ redelivers
the same message, and the ingest queue is blocked until its delivery limit dead-letters it
without any answer to the ERP. Decoding with ``surrogateescape`` instead lets the message
reach :func:`services.ingest.domain.submission.decode`, which rejects it with a reason.
"""

from __future__ import annotations

import struct

from pamqp import common, decode


def _short_str(value: bytes) -> tuple[int, str]:
    try:
        length = common.Struct.byte.unpack(value[0:1])[0]
    except (struct.error, TypeError) as err:
        raise ValueError("Could not unpack short string value") from err
    return length + 1, value[1 : length + 1].decode("utf-8", errors="surrogateescape")


def _field_table(value: bytes) -> tuple[int, common.FieldTable]:
    """pamqp's ``field_table`` with its keys decoded like :func:`_short_str`."""
    try:
        length = common.Struct.integer.unpack(value[0:4])[0]
        offset, end, data = 4, 4 + length, {}
        if end > len(value):
            raise ValueError("Field table length exceeds available data")
        while offset < end:
            key_length = common.Struct.byte.unpack_from(value, offset)[0]
            offset += 1
            if offset + key_length > end:
                raise ValueError("Field table key length exceeds data")
            key = value[offset : offset + key_length].decode("utf-8", errors="surrogateescape")
            offset += key_length
            consumed, result = decode.embedded_value(value[offset:])
            offset += consumed
            data[key] = result
        return end, data
    except (struct.error, TypeError) as err:
        raise ValueError("Could not unpack data") from err


def install() -> None:
    """Make pamqp decode short strings and table keys leniently in this process (idempotent)."""
    decode.short_str = _short_str  # type: ignore[assignment]
    decode.field_table = _field_table  # type: ignore[assignment]
    decode.METHODS["shortstr"] = _short_str
    decode.METHODS["table"] = _field_table
    decode.TABLE_MAPPING[b"F"] = _field_table
