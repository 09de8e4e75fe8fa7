"""Issue 14, item 2, on the real broker and database: every service runs with the keys
docker-compose.yml gives it (the files scripts/compose-secrets wrote) and a data directory
of its own, as on separate machines, and the pipeline works end to end.

Each ``efacture serve NAME`` gets only its compose key settings (archive: master key, log
key, the TSA's public certificates; transmit: the master key; tsa: its key directory; ingest,
metering, pa-sim: none) and an empty data directory of its own; the documents go to a
``file://`` store outside every data directory, standing in for SeaweedFS. An accepted
invoice whose tenant has PA credentials (sealed by the operator's container under the master
key) is archived, time-stamped, transmitted with those credentials, and its proof verifies
against the exported ``tsa-ca.pem`` and the public half of ``log.key``. Afterwards no data
directory holds anything but pa-sim's control token.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from services.archive.domain.checkpoint import public_key_pem
from shared import db
from tests.security.archive_support import Node, accepted, publish_accepted
from tests.security.compose_support import key_env, load_compose, run_script
from tests.support.infra import Infra
from tests.support.system import EFACTURE, StatusListener

pytestmark = pytest.mark.security
WAIT = 180  # seconds: generous, the machine may be shared with other test runs
SERVICES = ("tsa", "pa-sim", "ingest", "archive", "transmit", "metering")
# What a service may leave in its data directory: pa-sim's control token, nothing else.
LEFT = {"pa-sim": {"pa-sim", "pa-sim/control-token"}}
TENANT = "55208131700018"  # SIREN 552081317 (the template's seller), a valid SIRET: no sandbox


def _cli(node: Node, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([EFACTURE, *args], env={**node.env, **env}, capture_output=True,
                         text=True, timeout=180, cwd=node.data_dir)
    assert res.returncode == 0, f"efacture {' '.join(args)} -> {res.returncode}: {res.stderr}"
    return res


def _proof(node: Node, env: dict[str, str], invoice_id: str, directory: Path) -> None:
    """``proof``, retried while no checkpoint covers the invoice yet (signed every second)."""
    for _ in range(300):
        res = subprocess.run([EFACTURE, "proof", invoice_id, "-o", str(directory)],
                             env={**node.env, **env}, capture_output=True, text=True,
                             timeout=180, cwd=node.data_dir)
        if res.returncode == 0:
            return
        assert "no signed checkpoint covers this invoice yet" in res.stderr, res.stderr
        time.sleep(0.2)
    raise AssertionError("no checkpoint ever covered the invoice")


def _events(events: list[dict[str, Any]], submission_id: str) -> list[str]:
    return [e["event"] for e in events if e["submission_id"] == submission_id]


def test_each_service_with_only_its_compose_keys_and_its_own_disk_runs_the_pipeline(
        infra: Infra, tmp_path: Path) -> None:
    compose, root = load_compose(), tmp_path / "repo"
    made = run_script(root)
    assert made.returncode == 0, made.stderr
    store = tmp_path / "object-store"
    node = Node(infra, tmp_path / "node", EFACTURE_BLOB_URL=store.as_uri())
    node.data_dir.mkdir()
    node.env["EFACTURE_PA_URL"] = f"http://127.0.0.1:{node.env['EFACTURE_PA_SIM_PORT']}"
    data = {name: tmp_path / "data" / name for name in (*SERVICES, "migrate")}
    for directory in data.values():
        directory.mkdir(parents=True)
    # The operators' container (migrate in compose): its own keys and its own disk.
    operator = {**key_env(compose, "migrate", root), "EFACTURE_DATA_DIR": str(data["migrate"])}
    node.cli("topology", "apply")
    db.migrate(infra.database_url)
    _cli(node, operator, "tenant", "add", TENANT, "--name", "Compose keys",
         "--subscribed-on", "2026-01-01")
    _cli(node, operator, "tenant", "set-credentials", TENANT, "--client-id", "compose",
         "--client-secret", f"secret-{uuid.uuid4().hex[:8]}")
    listener = StatusListener(infra.amqp_url)
    try:
        for name in SERVICES:
            node.serve(name, EFACTURE_DATA_DIR=str(data[name]), **key_env(compose, name, root))
        # Published as ingest publishes an accepted invoice: the ingest rules are not what is
        # tested here (ingest still runs, with no key and its own empty disk).
        message = accepted(f"CK-{uuid.uuid4().hex[:6]}", tenant=TENANT, transmit=True)
        publish_accepted(infra.amqp_url, [message])
        document = tmp_path / "invoice.xml"
        document.write_bytes(message.document)
        sid = message.submission_id
        events = listener.wait_for(timeout=WAIT, predicate=lambda ev: bool(
            {"transmitted", "rejected", "failed"} & set(_events(ev, sid))))
        assert "transmitted" in _events(events, sid), [
            (e["event"], e["reasons"]) for e in events if e["submission_id"] == sid]
        invoice_id = next(e["invoice_id"] for e in events
                          if e["submission_id"] == sid and e["event"] == "archived")
        bundle = tmp_path / "proof"
        _proof(node, operator, invoice_id, bundle)
    finally:
        listener.close()
        node.stop()
    assert any(path.is_file() for path in store.rglob("*")), "no document reached the store"
    # The bundle verifies against the anchors an auditor gets: the exported TSA root and the
    # public half of var/compose/log.key (not anything read from a service's disk).
    log_key = serialization.load_pem_private_key(
        (root / "var/compose/log.key").read_bytes(), password=None)
    (tmp_path / "log.pub").write_bytes(public_key_pem(log_key.public_key()))  # type: ignore[arg-type]
    _cli(node, {}, "verify", str(document), "--proof", str(bundle),
         "--log-key", str(tmp_path / "log.pub"),
         "--tsa-ca", str(root / "var/compose/tsa-ca.pem"))
    for name, directory in data.items():
        left = {str(path.relative_to(directory)) for path in directory.rglob("*")}
        assert left == LEFT.get(name, set()), f"{name} wrote {sorted(left)} to its data dir"
