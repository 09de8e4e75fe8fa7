"""The evidence bundle of ``/invoices/{id}/proof.zip``: what ``efacture proof`` writes, plus
the two trust anchors of ``efacture keys export-trust`` (``log.pub``, ``tsa-ca.pem``).

The bundle is built by the archive's own code, run as the contract's commands in a child
process: the portal never imports another service, and a second implementation of the Merkle
proofs could drift from the one auditors verify against. Raises :class:`ProofUnavailable`
with a French sentence when no bundle can be made yet (no checkpoint covers the invoice).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

from shared.settings import Settings

TIMEOUT_SECONDS = 120.0


class ProofUnavailable(RuntimeError):
    pass


def _efacture() -> list[str]:
    exe = shutil.which("efacture") or os.path.join(os.path.dirname(sys.executable), "efacture")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "efacture"]


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["EFACTURE_DATABASE_URL"] = settings.database_url
    env["EFACTURE_DATA_DIR"] = str(settings.data_dir)
    if settings.tsa_url:
        env["EFACTURE_TSA_URL"] = settings.tsa_url
    return env


async def _run(settings: Settings, *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *_efacture(), *args, env=_env(settings), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ProofUnavailable("La preuve n'a pas pu être préparée à temps.") from None
    if proc.returncode != 0:
        raise ProofUnavailable("La preuve de cette facture n'est pas encore disponible "
                               "(réessayez dans quelques secondes).") from RuntimeError(
                                   err.decode(errors="replace").strip())


async def proof_zip(settings: Settings, invoice_id: uuid.UUID) -> bytes:
    with tempfile.TemporaryDirectory(prefix="efacture-proof-") as tmp:
        bundle, trust = Path(tmp) / "proof", Path(tmp) / "trust"
        await _run(settings, "proof", str(invoice_id), "-o", str(bundle))
        await _run(settings, "keys", "export-trust", "-o", str(trust))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(bundle.iterdir()):
                if path.is_file() and path.name != "log.pub":
                    zf.write(path, path.name)
            for name in ("log.pub", "tsa-ca.pem"):
                source = trust / name if (trust / name).exists() else bundle / name
                if source.exists():
                    zf.write(source, name)
        return out.getvalue()
