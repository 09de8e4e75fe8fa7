"""The CLI's database access: migrate once, then a plain synchronous connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from shared import db
from shared.settings import get_settings


@contextmanager
def connection() -> Iterator[psycopg.Connection[Any]]:
    """A connection to the migrated database; commits on success, rolls back on error."""
    url = get_settings().database_url
    db.migrate(url)
    with psycopg.connect(url) as conn:
        yield conn
