"""How every command speaks: a rich table for people, one JSON document with ``--json``,
one sentence on stderr for errors (exit 1), click's usage errors (exit 2).

Values in tables come from tenants and their invoices, so from possible attackers: a cell is
never read as rich markup (``[red]x`` prints as typed) and a control character is shown as an
escape (``\\x1b``), never sent to the terminal (issue 10, property 8).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn
from uuid import UUID

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def dumps(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, indent=2)


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    if as_json or human is None:
        click.echo(dumps(data))
    else:
        human()


# C0 and C1 controls, DEL, and the Unicode format/separator characters a terminal or a reader
# could be fooled by (bidi overrides, zero-width, line/paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``value`` as text safe for a terminal: every control character written as an escape."""
    return _UNSAFE.sub(_escape_char, "" if value is None else str(value))


def cell(value: Any) -> Text:
    """A table cell shown literally: no markup, no control characters."""
    return Text(printable(value))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=None if title is None else cell(title))
    for c in columns:
        t.add_column(cell(c))
    for r in rows:
        t.add_row(*[cell(v) for v in r])
    Console().print(t)


def fail(sentence: str, code: int = 1) -> NoReturn:
    click.echo(f"efacture: {printable(sentence)}", err=True)
    sys.exit(code)
