"""Catalogue rows and sealed blobs made as archive makes them, for the portal's tests."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import uuid
from datetime import date

import psycopg

from shared import db
from shared.vault.reader import Vault

TENANT = "99999999800010"
PORTAL = ("portal", "services.portal.migrations")
_LOG_INDEX = itertools.count(1)


def migrate(url: str) -> None:
    """Every migration, the portal's included (whether or not shared/db.py lists it yet)."""
    schemas = db.SCHEMAS if PORTAL in db.SCHEMAS else (*db.SCHEMAS, PORTAL)
    db.migrate(url, schemas)


class Archive:
    """Writes catalogue rows and sealed blobs as the archive service does."""

    def __init__(self, url: str, vault: Vault) -> None:
        self.url = url
        self.vault = vault

    async def add(self, body: bytes, kind: str, profile: str | None = "EN16931", *,
                  tenant: str = TENANT, recipient_email: str | None = None,
                  invoice_number: str | None = None,
                  issue_date: date | None = None) -> uuid.UUID:
        invoice_id = uuid.uuid4()
        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            index = (await (await conn.execute(
                "SELECT coalesce(max(log_index), 0) + 1 FROM archive.invoice")).fetchone()
                     or (1,))[0] + next(_LOG_INDEX) * 1000
            sealed = await self.vault.sealer.seal_document(conn, tenant, invoice_id, body)
            await asyncio.to_thread(self.vault.blobs.put, sealed.blob_key, sealed.ciphertext)
            await conn.execute(
                "INSERT INTO archive.invoice (invoice_id, tenant, submission_id, kind, profile,"
                " content_type, size_bytes, sha256, blob_key, wrapped_data_key,"
                " tenant_key_version, tsa_token, tsa_time, log_index, retain_until, transmit,"
                " recipient_email, invoice_number, issue_date)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'\\x00',now(),%s,'2036-01-01',false,"
                " %s,%s,%s)",
                (invoice_id, tenant, f"s-{invoice_id}", kind, profile,
                 "application/pdf" if kind.endswith("pdf") else "application/xml", len(body),
                 hashlib.sha256(body).hexdigest(), sealed.blob_key, sealed.wrapped_data_key,
                 sealed.tenant_key_version, index, recipient_email, invoice_number, issue_date))
        return invoice_id
