"""Issue 10, property 7: key rotation loses nothing.

Archive, transmit, the TSA and the PA simulator run (``efacture serve``) for two non-sandbox
tenants with PA client secrets. ``efacture keys rotate`` runs while they do. Afterwards no row
names the old master key, the running archive seals with the new one and the running transmit
opens the re-wrapped secret (no restart), and a secret that cannot be opened is a permanent
failure with its reason (``transmission_failed``, ``permanent: true``), never a requeue loop.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from services.archive.rotation import RotationIncompleteError, rotate_master
from shared import db
from shared.settings import Settings
from shared.vault.envelope import new_data_key, tenant_key_context, wrap
from shared.vault.master_key import MasterKey, load_master_key
from shared.vault.secrets import secret_key_id
from tests.security.archive_support import Node, accepted, publish_accepted
from tests.support.infra import Infra
from tests.support.system import StatusListener

pytestmark = [pytest.mark.security, pytest.mark.integration]
WAIT = 180
GOOD, BROKEN = "55208131700018", "55208131700026"  # SIREN 552081317, the template's seller


@pytest.fixture(scope="module")
def node(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = Node(infra, tmp_path_factory.mktemp("rotation"))
    n.env["EFACTURE_PA_URL"] = f"http://127.0.0.1:{n.env['EFACTURE_PA_SIM_PORT']}"
    n.cli("topology", "apply")
    for siret in (GOOD, BROKEN):
        n.cli("tenant", "add", siret, "--name", f"Rot {siret}", "--subscribed-on", "2026-01-01")
        n.cli("tenant", "set-credentials", siret, "--client-id", f"client-{siret}",
              "--client-secret", f"secret-{siret}")
    for name in ("tsa", "pa-sim", "archive", "transmit"):
        n.serve(name)
    try:
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def listener(infra: Infra, node: Node) -> Iterator[StatusListener]:
    lst = StatusListener(infra.amqp_url)
    yield lst
    lst.close()


def _outcome(node: Node, listener: StatusListener, tenant: str) -> dict[str, Any]:
    msg = accepted(f"ROT-{uuid.uuid4().hex[:8]}", tenant=tenant, transmit=True)
    publish_accepted(node.infra.amqp_url, [msg])
    done = ("transmitted", "transmission_failed", "rejected")
    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: any(
        e["invoice_id"] == str(msg.invoice_id) and e["event"] in done for e in ev))
    return next(e for e in events if e["invoice_id"] == str(msg.invoice_id)
                and e["event"] in done)


def _naming(infra: Infra, key_id: str) -> int:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        keys = conn.execute("SELECT count(*) FROM archive.tenant_key WHERE master_key_id = %s",
                            (key_id,)).fetchone()
        # The secret the test corrupts opens with no key: it names a key, but is lost already.
        secrets = [bytes(r[0]) for r in conn.execute(
            "SELECT pa_secret_wrapped FROM core.tenant WHERE pa_secret_wrapped IS NOT NULL"
            " AND siret <> %s", (BROKEN,))]
    assert keys is not None
    return int(keys[0]) + sum(secret_key_id(s) in (None, key_id) for s in secrets)


def test_rotation_while_services_run_loses_nothing(node: Node, listener: StatusListener) -> None:
    first = _outcome(node, listener, GOOD)
    assert first["event"] == "transmitted", first["reasons"]

    out = json.loads(node.cli("keys", "rotate", "--json").stdout)
    assert out["rotated"] == "master"
    assert out["keys_rewrapped"] >= 1
    assert out["secrets_rewrapped"] == 2
    assert _naming(node.infra, out["old_key_id"]) == 0
    assert not (node.data_dir / "keys" / "master.key.old").exists()

    # The old secret, re-wrapped, still works in the transmit that was running all along;
    # the archive that was running seals and opens under the new key.
    after = _outcome(node, listener, GOOD)
    assert after["event"] == "transmitted", after["reasons"]
    with psycopg.connect(node.infra.database_url, autocommit=True) as conn:
        ids = {r[0] for r in conn.execute("SELECT master_key_id FROM archive.tenant_key")}
    assert ids == {out["new_key_id"]}


def test_a_secret_that_cannot_be_opened_is_a_permanent_failure(node: Node,
                                                               listener: StatusListener) -> None:
    with psycopg.connect(node.infra.database_url, autocommit=True) as conn:
        conn.execute("UPDATE core.tenant SET pa_secret_wrapped = overlay(pa_secret_wrapped"
                     " PLACING '\\xff'::bytea FROM 30 FOR 1) WHERE siret = %s", (BROKEN,))
    event = _outcome(node, listener, BROKEN)
    assert event["event"] == "transmission_failed"
    assert event["detail"]["permanent"] is True
    assert [r["code"] for r in event["reasons"]] == ["secret-unreadable"]
    assert node.metric("transmit", "efacture_messages_retried_total") == 0


def test_rotation_refuses_to_drop_the_old_key_while_a_row_still_names_it(node: Node) -> None:
    settings = Settings(data_dir=node.data_dir, database_url=node.infra.database_url)
    run = uuid.uuid4().hex[:6]

    async def service_still_on_the_old_key(old: MasterKey) -> None:
        # What a service that never notices the rotation would commit: a new key each time.
        straggler = f"STRAGGLER{run}{uuid.uuid4().hex[:6]}"
        async with await psycopg.AsyncConnection.connect(node.infra.database_url) as conn:
            await conn.execute(
                "INSERT INTO archive.tenant_key (tenant, version, wrapped_key, master_key_id)"
                " VALUES (%s, 1, %s, %s) ON CONFLICT DO NOTHING",
                (straggler, wrap(new_data_key(), old.key, context=tenant_key_context(
                    straggler, 1)), old.key_id))
            await conn.commit()

    async def rotate(hook: Any) -> dict[str, Any]:
        pool = await db.open_pool(node.infra.database_url, max_size=2)
        try:
            return await rotate_master(pool, settings, after_pass=hook)
        finally:
            await pool.close()

    with pytest.raises(RotationIncompleteError, match="still name the old master key"):
        asyncio.run(rotate(service_still_on_the_old_key))
    keys = node.data_dir / "keys"
    assert (keys / "master.key.old").exists(), "the old key was dropped while a row named it"
    held = load_master_key(settings, generate=False)
    assert held.previous is not None
    # The straggler stopped: running the rotation again finishes it, and nothing was lost.
    done = asyncio.run(rotate(None))
    assert done["old_key_id"] == held.previous.key_id
    assert not (keys / "master.key.old").exists()
    assert _naming(node.infra, done["old_key_id"]) == 0
    assert done["secrets_unreadable"] == [BROKEN]
