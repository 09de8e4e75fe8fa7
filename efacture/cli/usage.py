"""Commands registered later."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    return None
