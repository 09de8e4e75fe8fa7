"""The built-in TSA as ``efacture up`` runs it, checked by the real ``openssl ts -verify``.

The server runs in its own process through ``services.archive.tsa.app.run`` (as the supervisor's
``efacture serve tsa`` child does) on a free port with a throwaway data directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.archive.adapters.tsa_client import TimeStampToken, TsaClient
from shared.errors import RetryableError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus"
DOCUMENT = CORPUS / "factur-x" / "zfc-fnfe__Facture_FR_MINIMUM.pdf"
SERVE = (
    "from services.archive.tsa.app import run; "
    "from shared.settings import Settings; run(Settings())"
)


@dataclass(frozen=True)
class Server:
    base: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"{self.base}/tsa"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data_dir: Path) -> tuple[subprocess.Popen[bytes], Server]:
    port = _free_port()
    env = {**os.environ, "EFACTURE_DATA_DIR": str(data_dir), "EFACTURE_TSA_PORT": str(port)}
    env.pop("EFACTURE_TSA_URL", None)
    process = subprocess.Popen([sys.executable, "-c", SERVE], cwd=REPO, env=env)
    server = Server(base=f"http://127.0.0.1:{port}", data_dir=data_dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"TSA server exited with {process.returncode}")
        try:
            if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                return process, server
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("TSA server did not come up")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    process, running = _start(tmp_path_factory.mktemp("tsa-data"))
    try:
        yield running
    finally:
        _stop(process)


def _stamp(url: str, document: bytes) -> tuple[TimeStampToken, bytes]:
    async def go() -> tuple[TimeStampToken, bytes]:
        async with TsaClient(url) as client:
            return await client.stamp(hashlib.sha256(document).digest()), await client.chain_pem()

    return asyncio.run(go())


def _openssl_verify(bundle: Path, document: Path) -> subprocess.CompletedProcess[str]:
    # Exactly the command of contract section 4, run from the bundle directory.
    return subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(document), "-in", "timestamp.tsr",
         "-CAfile", "tsa.pem"],
        cwd=bundle, capture_output=True, text=True, check=False, timeout=30,
    )


def _write_bundle(bundle: Path, token: TimeStampToken, chain: bytes) -> None:
    bundle.mkdir(exist_ok=True)
    (bundle / "timestamp.tsr").write_bytes(token.response_der)
    (bundle / "tsa.pem").write_bytes(chain)


def test_openssl_verifies_a_corpus_invoice_stamped_by_the_builtin_tsa(
    server: Server, tmp_path: Path
) -> None:
    token, chain = _stamp(server.url, DOCUMENT.read_bytes())
    _write_bundle(tmp_path / "proof", token, chain)
    result = _openssl_verify(tmp_path / "proof", DOCUMENT)
    assert "Verification: OK" in result.stdout, result.stderr
    assert result.returncode == 0


def test_openssl_refuses_the_token_for_a_document_altered_by_one_byte(
    server: Server, tmp_path: Path
) -> None:
    original = DOCUMENT.read_bytes()
    token, chain = _stamp(server.url, original)
    _write_bundle(tmp_path / "proof", token, chain)
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0x01
    (tmp_path / "altered.pdf").write_bytes(bytes(altered))
    result = _openssl_verify(tmp_path / "proof", tmp_path / "altered.pdf")
    assert "Verification: OK" not in result.stdout
    assert result.returncode != 0
    assert "message imprint mismatch" in result.stderr


def test_openssl_refuses_a_chain_from_another_tsa(server: Server, tmp_path: Path) -> None:
    token, _ = _stamp(server.url, DOCUMENT.read_bytes())
    process, other = _start(tmp_path / "other-data")
    try:
        _, foreign_chain = _stamp(other.url, b"anything")
    finally:
        _stop(process)
    _write_bundle(tmp_path / "proof", token, foreign_chain)
    result = _openssl_verify(tmp_path / "proof", DOCUMENT)
    assert result.returncode != 0
    assert "Verification: OK" not in result.stdout


def test_restarted_tsa_keeps_its_keys_so_old_tokens_still_verify(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process, first = _start(data_dir)
    try:
        old_token, old_chain = _stamp(first.url, DOCUMENT.read_bytes())
    finally:
        _stop(process)
    process, second = _start(data_dir)
    try:
        new_token, new_chain = _stamp(second.url, DOCUMENT.read_bytes())
    finally:
        _stop(process)
    assert new_chain == old_chain
    assert new_token.serial != old_token.serial
    _write_bundle(tmp_path / "proof", old_token, new_chain)
    assert _openssl_verify(tmp_path / "proof", DOCUMENT).returncode == 0
    assert (data_dir / "tsa" / "tsa-key.pem").stat().st_mode & 0o777 == 0o600
    assert not (data_dir / "tsa" / "ca-key.pem").exists(), "the CA private key was kept"


def test_query_without_timestamp_content_type_is_refused_415(server: Server) -> None:
    response = httpx.post(server.url, content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 415


def test_oversized_query_is_refused_413(server: Server) -> None:
    response = httpx.post(
        server.url,
        content=b"\x00" * (65 * 1024),
        headers={"content-type": "application/timestamp-query"},
    )
    assert response.status_code == 413


def test_garbage_query_gets_a_rejection_reply_not_an_error(server: Server) -> None:
    response = httpx.post(
        server.url, content=b"garbage", headers={"content-type": "application/timestamp-query"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/timestamp-reply"
    result = subprocess.run(
        ["openssl", "ts", "-reply", "-in", "/dev/stdin", "-text"],
        input=response.content, capture_output=True, check=False, timeout=30,
    )
    assert b"Rejected" in result.stdout


def test_unreachable_tsa_is_retryable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/tsa"
    with pytest.raises(RetryableError) as caught:
        _stamp(url, b"doc")
    assert caught.value.code == "tsa-unavailable"


def test_openssl_needs_only_the_ca_because_the_token_embeds_the_tsa_certificate(
    server: Server, tmp_path: Path
) -> None:
    token, chain = _stamp(server.url, DOCUMENT.read_bytes())
    ca_only = chain[chain.index(b"-----END CERTIFICATE-----") + 26 :]
    assert ca_only.count(b"BEGIN CERTIFICATE") == 1
    _write_bundle(tmp_path / "proof", token, ca_only)
    result = _openssl_verify(tmp_path / "proof", DOCUMENT)
    assert "Verification: OK" in result.stdout, result.stderr
