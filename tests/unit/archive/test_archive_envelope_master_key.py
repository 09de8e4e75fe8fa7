"""Master key sources, dev-mode generation and file rotation (adapters/master_key.py)."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from shared.settings import Settings
from shared.vault import master_key as mk
from shared.vault.master_key import MasterKey, MasterKeyError

pytestmark = pytest.mark.unit


def _settings(data_dir: Path, master_key: str | None = None) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, master_key=master_key)  # type: ignore[call-arg]


def test_key_from_environment_wins_and_writes_no_file(tmp_path: Path) -> None:
    raw = os.urandom(32)
    key = mk.load_master_key(_settings(tmp_path, base64.b64encode(raw).decode()))
    assert key.key == raw
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"16 bytes only!!!").decode()])
def test_malformed_environment_key_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(MasterKeyError) as caught:
        mk.load_master_key(_settings(tmp_path, bad))
    assert caught.value.code == "master-key-invalid"


def test_dev_mode_generates_a_private_key_file_once_with_a_loud_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with capture_logs() as logs:
        first = mk.load_master_key(_settings(tmp_path))
    path = tmp_path / "keys" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MasterKey.from_base64(path.read_text()).key == first.key
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["dev-master-key-generated"]
    assert "DEV master key" in capsys.readouterr().err

    with capture_logs() as logs:
        again = mk.load_master_key(_settings(tmp_path))
    assert again.key == first.key
    assert logs == []
    assert capsys.readouterr().err == ""


def test_read_only_callers_refuse_to_generate_a_key(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="no master key"):
        mk.load_master_key(_settings(tmp_path), generate=False)
    assert not (tmp_path / "keys" / "master.key").exists()


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    keys: list[bytes] = []

    def start() -> None:
        barrier.wait()
        keys.append(mk.load_master_key(_settings(tmp_path)).key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8
    assert len(set(keys)) == 1
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["master.key"]


def test_key_id_names_the_key_without_revealing_it() -> None:
    key = MasterKey(os.urandom(32))
    assert len(key.key_id) == 16
    assert int(key.key_id, 16) >= 0
    assert key.key_id != MasterKey(os.urandom(32)).key_id
    assert key.to_base64() not in repr(key)
    assert key.key.hex()[:16] not in repr(key)


def test_rotation_keeps_the_old_key_until_finished(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    original = mk.load_master_key(settings)
    old, new = mk.rotate_master_key(tmp_path)
    assert old.key == original.key
    assert new.key_id != old.key_id

    during = mk.load_master_key(settings)
    assert during.key == new.key
    assert during.previous is not None
    assert during.by_id(old.key_id) == old
    assert during.by_id(new.key_id) == new

    # An interrupted rotation resumes with the same pair instead of losing the old key.
    assert mk.rotate_master_key(tmp_path) == (old, new)

    mk.finish_master_rotation(tmp_path)
    after = mk.load_master_key(settings)
    assert after.key == new.key
    assert after.previous is None
    assert after.by_id(old.key_id) is None


def test_rotation_interrupted_before_the_new_key_was_written_resumes(tmp_path: Path) -> None:
    original = mk.load_master_key(_settings(tmp_path))
    keys = tmp_path / "keys"
    (keys / "master.key.old").write_bytes((keys / "master.key").read_bytes())
    old, new = mk.rotate_master_key(tmp_path)
    assert old.key == original.key
    assert new.key_id != old.key_id


def test_rotation_without_a_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError):
        mk.rotate_master_key(tmp_path)
