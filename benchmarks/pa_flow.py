"""Uploads/s of the built-in PA simulator and of the PA client (XP Z12-013 wire).

Usage: ``python benchmarks/pa_flow.py [--n N] [--concurrency C] [--json]``

Starts ``efacture serve pa-sim`` as its own process (a temporary data directory, a free
port), then uploads ``N`` distinct 8 KB CII flows twice with ``C`` requests in flight:

- **simulator**: a bare ``httpx.AsyncClient`` posting prepared multipart bodies with one
  token (what the simulator alone can take);
- **client**: ``PaClient.upload`` (flowInfo, Request-Id, token cache, circuit breaker,
  answer parsing) — what transmit's client adds on top.

Both figures are uploads answered 202 per second of wall-clock time, client and simulator
sharing the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from services.transmit.adapters.pa_client import PaClient, PaCredentials, PaEndpoint
from services.transmit.domain.flow import flow_info, sha256_hex
from services.transmit.pa_sim import free_port
from shared.logging import configure

EFACTURE = str(Path(sys.executable).parent / "efacture")
CONTENT = (b"<rsm:CrossIndustryInvoice xmlns:rsm='urn:un:unece:uncefact:data:standard:"
           b"CrossIndustryInvoice:100'>" + b" " * 8000 + b"</rsm:CrossIndustryInvoice>")


def start_sim(data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "EFACTURE_DATA_DIR": data_dir, "EFACTURE_PA_SIM_PORT": str(port),
           "EFACTURE_PA_SIM_ACK_DELAY_S": "3600"}
    proc = subprocess.Popen([EFACTURE, "serve", "pa-sim"], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("pa-sim did not start")


async def bare(url: str, n: int, concurrency: int) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as http:
        token = (await http.post("/oauth/token", data={
            "grant_type": "client_credentials", "client_id": "bench",
            "client_secret": "s"})).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        digest = hashlib.sha256(CONTENT).hexdigest()
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> int:
            info = {"trackingId": f"bare-{i}", "name": f"F{i}.xml", "flowSyntax": "CII",
                    "flowProfile": "CIUS", "processingRule": "B2B", "sha256": digest}
            async with gate:
                answer = await http.post("/v1/flows", headers=auth, files={
                    "flowInfo": (None, json.dumps(info), "application/json"),
                    "file": (f"F{i}.xml", CONTENT, "application/xml")})
            return answer.status_code

        started = time.perf_counter()
        codes = await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - started
    assert all(c == 202 for c in codes), set(codes)
    return n / elapsed


async def client(url: str, n: int, concurrency: int) -> float:
    creds = PaCredentials(endpoint=PaEndpoint(base_url=url), client_id="bench-client",
                          client_secret=SecretStr("s"))
    gate = asyncio.Semaphore(concurrency)
    async with PaClient() as pa:

        async def one(i: int) -> None:
            info = flow_info(tracking_id=uuid.uuid4(), name=f"F{i}.xml", syntax="cii",
                             profile="EN16931", sha256=sha256_hex(CONTENT))
            async with gate:
                await pa.upload(creds, info, f"F{i}.xml", CONTENT)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure("bench", "WARNING")
    with tempfile.TemporaryDirectory() as data_dir:
        proc, url = start_sim(data_dir)
        try:
            sim_rate = asyncio.run(bare(url, args.n, args.concurrency))
            client_rate = asyncio.run(client(url, args.n, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    out: dict[str, Any] = {"n": args.n, "concurrency": args.concurrency,
                           "simulator_uploads_per_s": round(sim_rate, 1),
                           "client_uploads_per_s": round(client_rate, 1),
                           "load_average_1m": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
