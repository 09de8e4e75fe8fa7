"""``efacture up``: declare the topology, run every service as a child process, keep them alive.

Children are ``efacture serve NAME``, several of a service with ``--replicas``
(``EFACTURE_REPLICAS``, :mod:`efacture.replicas`): replica ``i`` gets ``EFACTURE_REPLICA=i``
and its own health/metrics port. Each service process prints ``READY NAME`` on its
stdout once it consumes; when all have, the supervisor lists the processes (stderr) and
prints ``ready``. A child that dies is started again on its own (with a short
back-off). SIGTERM or Ctrl-C sends SIGTERM to every child, which stops consuming and
finishes in-flight messages (FastStream's graceful shutdown), then the supervisor exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field

import httpx

from efacture import ports
from efacture.replicas import child_key, parse_replicas, plan
from shared import db
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

SERVICES = ("ingest", "archive", "transmit", "metering", "portal")


def serve_command(name: str) -> list[str]:
    exe = shutil.which("efacture") or str(os.path.join(os.path.dirname(sys.executable), "efacture"))
    if os.path.exists(exe):
        return [exe, "serve", name]
    return [sys.executable, "-m", "efacture", "serve", name]


@dataclass
class Child:
    name: str
    replica: int = 0
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @property
    def key(self) -> str:
        """``archive`` for replica 0, ``archive#1`` for the next (as in the port plan)."""
        return child_key(self.name, self.replica)


class Supervisor:
    def __init__(self, settings: Settings, replicas: dict[str, int] | None = None) -> None:
        """``replicas``: processes per service (default: ``EFACTURE_REPLICAS``, else one)."""
        self.settings = settings
        self.replicas = replicas if replicas is not None else parse_replicas(settings.replicas)
        self.children: list[Child] = []
        self.stopping = False
        self.fatal: str | None = None  # why `up` stopped by itself (exit 1)
        self._stop = asyncio.Event()
        aux = ["pa-sim"]  # always: sandbox tenants only ever talk to the simulator
        if not settings.tsa_url:
            aux.append("tsa")
        self.aux = aux

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        conflict = ports.first_conflict(self.settings, self.aux, SERVICES, self.replicas)
        if conflict:  # someone else would answer in a helper's place: refuse to start
            print(f"efacture: {conflict}", file=sys.stderr, flush=True)
            return 1
        from efacture.cli.serve import apply_topology  # the same code as `topology apply`

        await asyncio.to_thread(apply_topology, self.settings)
        # Migrate here, as the migration role, so each service can be given only its own role.
        await asyncio.to_thread(db.migrate, self.settings.database_url,
                                passwords=db.role_passwords(self.settings) or None)
        self.children = [Child(n) for n in self.aux]
        self.children += [Child(n, i) for n, i in plan(SERVICES, self.replicas)]
        for c in self.children:
            await self._spawn(c)
        problem = await self._wait_http_ready()
        if problem:
            print(f"efacture: {problem}", file=sys.stderr, flush=True)
            self.stopping = True
            await self._terminate()
            return 1
        watchers = [asyncio.create_task(self._watch(c)) for c in self.children]
        ready_wait = asyncio.create_task(self._announce_ready())
        await stop.wait()
        self.stopping = True
        ready_wait.cancel()
        await self._terminate()
        for w in watchers:
            w.cancel()
        if self.fatal:
            print(f"efacture: {self.fatal}", file=sys.stderr, flush=True)
            return 1
        return 0

    async def _spawn(self, child: Child) -> None:
        child.ready.clear()
        child.proc = await asyncio.create_subprocess_exec(
            *serve_command(child.name),
            env=self._child_env(child),
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children itself
        )
        child.reader = asyncio.create_task(self._read_stdout(child, child.proc))
        log.info("child-started", child=child.key, pid=child.proc.pid)

    def _child_env(self, child: Child) -> dict[str, str]:
        """The environment of a child: a service sees its own role's URL, not the admin's,
        and its replica index (which gives it its own health/metrics port)."""
        env = dict(os.environ)
        if child.name in SERVICES:
            url = db.service_url(self.settings, child.name)
            env["EFACTURE_DATABASE_URL"] = url
            env[f"EFACTURE_{child.name.upper()}_DATABASE_URL"] = url
            env["EFACTURE_REPLICA"] = str(child.replica)
            env.pop("EFACTURE_METRICS_PORT", None)  # one fixed port would be fought over
        return env

    def processes(self) -> list[dict[str, object]]:
        """What runs now: one entry per child (service, replica, pid, port, restarts)."""
        planned = ports.planned_ports(self.settings, self.aux, SERVICES, self.replicas)
        return [{"child": c.key, "service": c.name, "replica": c.replica,
                 "pid": c.proc.pid if c.proc else None, "port": planned.get(c.key),
                 "restarts": c.restarts} for c in self.children]

    async def _read_stdout(self, child: Child, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            text = line.decode(errors="replace").strip()
            if text == f"READY {child.name}":
                child.ready.set()
            elif text:
                print(text, file=sys.stderr, flush=True)

    async def _watch(self, child: Child) -> None:
        while not self.stopping:
            assert child.proc is not None
            rc = await child.proc.wait()
            if self.stopping:
                return
            child.restarts += 1
            log.warning("child-died", child=child.key, returncode=rc, restarts=child.restarts)
            await asyncio.sleep(min(0.5 * child.restarts, 5.0))
            if self.stopping:
                return
            taken = self._port_taken(child.key)
            if taken:  # another process took the dead child's port: stop, do not trust it
                self.fatal = taken
                self._stop.set()
                return
            await self._spawn(child)
            assert child.proc is not None
            print(f"efacture up: {child.key} exited (code {rc}), restarted as pid "
                  f"{child.proc.pid}", file=sys.stderr, flush=True)

    def _port_taken(self, name: str) -> str | None:
        planned = ports.planned_ports(self.settings, self.aux, SERVICES, self.replicas)
        for key, port in ports.of_child(name, planned).items():
            problem = ports.bind_problem(ports.listen_host(self.settings, key), port)
            if problem:
                return (f"port {port} of {ports.label(key)}, which had died, {problem}; "
                        "efacture up stopped rather than trust whoever answers there.")
        return None

    async def _wait_http_ready(self) -> str | None:
        """Wait until each helper answers its health check from the port it holds itself.

        Returns one sentence when a helper exits or stays silent, or when what answers on its
        port is not the child ``up`` started (a process that took the port in between).
        """
        checks = [("pa-sim", f"{self.settings.builtin_pa_url}/health", self.settings.pa_sim_port)]
        if "tsa" in self.aux:
            checks.append(("tsa", f"http://127.0.0.1:{self.settings.tsa_port}/health",
                           self.settings.tsa_port))
        children = {c.name: c for c in self.children}
        deadline = time.monotonic() + 60  # generous: a loaded machine starts slowly
        async with httpx.AsyncClient(timeout=1.0) as client:
            for name, url, port in checks:
                proc = children[name].proc
                assert proc is not None
                while True:
                    if proc.returncode is not None:
                        return (f"{ports.label(name)} exited (code {proc.returncode}) before it "
                                f"was ready; is port {port} free?")
                    if time.monotonic() > deadline:
                        return f"{ports.label(name)} did not answer {url} within 60 s."
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(url)).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                local = self.settings.pa_sim_url is None or name != "pa-sim"
                if local and ports.held_by(proc.pid, port) is False:
                    return (f"port {port} answered, but not from {ports.label(name)} that "
                            "efacture up started; refusing to trust it.")
        for c in self.children:
            if c.name in self.aux:
                c.ready.set()
        return None

    async def _announce_ready(self) -> None:
        await asyncio.gather(*(c.ready.wait() for c in self.children))
        for p in self.processes():
            port = f", health http://{self.settings.bind_host}:{p['port']}/health" if (
                p["port"] and p["service"] in SERVICES) else ""
            print(f"efacture up: {p['child']} pid {p['pid']}{port}", file=sys.stderr,
                  flush=True)
        print("ready", flush=True)

    async def _terminate(self) -> None:
        procs = [c.proc for c in self.children if c.proc and c.proc.returncode is None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout=40)
        except TimeoutError:
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
