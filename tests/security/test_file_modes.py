"""Issue 10, property 8 (archive side): decrypted files — ``invoice get -o``, ``export``,
``proof`` bundles — are created 0600 whatever the umask, and a symlink planted at the target
is replaced, never followed (the file it points to is left untouched)."""

from __future__ import annotations

import os
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.security.archive_support import Node, accepted, publish_accepted
from tests.support.infra import Infra
from tests.support.invoices import TENANT
from tests.support.system import EFACTURE

pytestmark = [pytest.mark.security, pytest.mark.integration]
WAIT = 120
VICTIM = b"the victim's own file\n"


@dataclass(frozen=True)
class Archived:
    node: Node
    invoice_id: str
    document: bytes


@pytest.fixture(scope="module")
def archived(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archived]:
    node = Node(infra, tmp_path_factory.mktemp("modes"))
    node.cli("topology", "apply")
    node.cli("tenant", "add", TENANT, "--name", "Modes", "--subscribed-on", "2026-01-01",
             "--sandbox")
    node.serve("tsa")
    node.serve("archive")
    try:
        msg = accepted(f"FM-{uuid.uuid4().hex[:6]}")
        publish_accepted(infra.amqp_url, [msg])
        deadline = time.monotonic() + WAIT
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            while conn.execute("SELECT 1 FROM archive.log_checkpoint c, archive.invoice i"
                               " WHERE i.invoice_id = %s AND c.size > i.log_index",
                               (msg.invoice_id,)).fetchone() is None:
                assert time.monotonic() < deadline, "the invoice was not archived"
                time.sleep(0.2)
        yield Archived(node, str(msg.invoice_id), msg.document)
    finally:
        node.stop()


def _cli(a: Archived, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI under umask 000, so only the code itself can make a file private."""
    return subprocess.run([EFACTURE, *args], env=a.node.env, capture_output=True, text=True,
                          timeout=120, cwd=a.node.data_dir, preexec_fn=lambda: os.umask(0))


def _private_regular_file(path: Path) -> None:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode), f"{path} is not a regular file"
    assert stat.S_IMODE(st.st_mode) == 0o600, f"{path} is {oct(stat.S_IMODE(st.st_mode))}"


def _plant(target: Path, victim: Path) -> None:
    victim.write_bytes(VICTIM)
    target.symlink_to(victim)


def test_invoice_get_writes_a_private_file_and_replaces_a_planted_symlink(
        archived: Archived, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.xml"
    assert _cli(archived, "invoice", "get", archived.invoice_id, "-o", str(fresh)).returncode == 0
    _private_regular_file(fresh)
    assert fresh.read_bytes() == archived.document
    target, victim = tmp_path / "out.xml", tmp_path / "victim.txt"
    _plant(target, victim)
    res = _cli(archived, "invoice", "get", archived.invoice_id, "-o", str(target))
    assert res.returncode == 0, res.stderr
    assert victim.read_bytes() == VICTIM, "the symlink was followed"
    _private_regular_file(target)
    assert target.read_bytes() == archived.document


def test_export_writes_a_private_zip_and_replaces_a_planted_symlink(
        archived: Archived, tmp_path: Path) -> None:
    target, victim = tmp_path / "export.zip", tmp_path / "victim.txt"
    _plant(target, victim)
    res = _cli(archived, "export", TENANT, "-o", str(target))
    assert res.returncode == 0, res.stderr
    assert victim.read_bytes() == VICTIM, "the symlink was followed"
    _private_regular_file(target)


def test_proof_writes_private_files_and_replaces_planted_symlinks(
        archived: Archived, tmp_path: Path) -> None:
    bundle, victim = tmp_path / "bundle", tmp_path / "victim.txt"
    bundle.mkdir()
    _plant(bundle / "timestamp.tsr", victim)
    res = _cli(archived, "proof", archived.invoice_id, "-o", str(bundle))
    assert res.returncode == 0, res.stderr
    assert victim.read_bytes() == VICTIM, "the symlink was followed"
    files = sorted(bundle.iterdir())
    assert len(files) == 6
    for path in files:
        _private_regular_file(path)
