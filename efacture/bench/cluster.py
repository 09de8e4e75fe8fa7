"""A real three-node RabbitMQ cluster on this machine, for the distributed tests and the bench.

:class:`RabbitCluster` starts ``size`` nodes (``efa-a@localhost``, ``efa-b@localhost``…) of the
installed RabbitMQ from ``/usr/lib/rabbitmq/bin``, each with its own AMQP and distribution port,
its own data, log and config files under ``base``, no plugins (so no management or Prometheus
listener), and an Erlang cookie and epmd of the cluster's own (``ERL_EPMD_PORT``): the machine's
default node (``rabbit@…`` on 5672, the system epmd on 4369) is never touched. Nodes 2..n join
the first with ``rabbitmqctl join_cluster``; :meth:`start` returns once every node reports the
whole cluster running, or raises :class:`ClusterError` with the node's log tail.

Contract: :meth:`stop` stops only the processes this object started (each node in a process
group of its own, then its epmd) and removes ``base`` when it made it. Every wait is generous
(the machine has two cores shared by everyone) and ends with a sentence saying what did not
happen. Reaching the nodes: :meth:`amqp_url` (comma-separated, as ``EFACTURE_AMQP_URL``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from efacture.bench.cluster_node import ClusterNode, kill_group, runs
from efacture.bench.infra import listen_ports

RABBIT_BIN = Path(os.environ.get("EFACTURE_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
EPMD = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
STATE = "cluster.json"
DLX_CONFIRM_TIMEOUT_MS = 5000
START_TIMEOUT = 240.0  # seconds: three Erlang VMs booting on a loaded 2-core machine


class ClusterError(RuntimeError):
    """The cluster (or one node) did not do what was asked in time; the message says which."""


@dataclass
class RabbitCluster:
    """``size`` RabbitMQ nodes clustered together under ``base`` (a temp dir when None)."""

    base: Path | None = None
    size: int = 3
    prefix: str = "efa"
    cookie: str = field(default_factory=lambda: secrets.token_hex(20))
    nodes: list[ClusterNode] = field(default_factory=list)
    epmd_port: int = 0
    start_seconds: float = 0.0
    epmd_pid: int = 0
    dlx_confirm_timeout_ms: int = DLX_CONFIRM_TIMEOUT_MS
    _made_base: bool = False
    _epmd: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="efacture-rabbit-"))
            self._made_base = True
        if self.nodes:  # attached (see attach): ports as saved
            return
        self.epmd_port = listen_ports()
        for i in range(self.size):
            short = f"{self.prefix}-{chr(ord('a') + i)}"
            self.nodes.append(ClusterNode(short, listen_ports(), listen_ports(),
                                          self.root / short))

    @property
    def root(self) -> Path:
        assert self.base is not None
        return self.base

    # -- environment -------------------------------------------------------------------------
    def cli_env(self) -> dict[str, str]:
        """Environment of the node scripts and of rabbitmqctl: the cluster's cookie and epmd."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({"HOME": str(self.root / "home"), "ERL_EPMD_PORT": str(self.epmd_port),
                    "ERL_EPMD_ADDRESS": "127.0.0.1",
                    "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                    "LANG": "C.UTF-8"})
        return env

    def _node_env(self, node: ClusterNode) -> dict[str, str]:
        env = self.cli_env()
        env.update({
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(node.amqp_port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_MNESIA_BASE": str(node.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.home / "log"),
            "RABBITMQ_CONFIG_FILE": str(node.home / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_PID_FILE": str(node.pid_file),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
        })
        return env

    def _write_files(self) -> None:
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        (self.root / "rabbitmq-env.conf").write_text("# the cluster's own: nothing inherited\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        # At-least-once dead-lettering (the delay queues) re-sends an unconfirmed dead letter
        # after this long; 3.10's default (3 min) leaves delayed messages whose target queue's
        # leader died waiting that long (see docs/deployment.md).
        (self.root / "advanced.config").write_text(
            f"[{{rabbit, [{{dead_letter_worker_publisher_confirm_timeout, "
            f"{self.dlx_confirm_timeout_ms}}}]}}].\n")
        for node in self.nodes:
            (node.home / "log").mkdir(parents=True, exist_ok=True)
            (node.home / "rabbitmq.conf").write_text(
                f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}\n"
                # Two of three nodes keep serving; a lone node stops instead of diverging.
                "cluster_partition_handling = pause_minority\n"
                "log.console = false\nlog.file.level = info\n")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> RabbitCluster:
        """Start every node, cluster them, wait until all report running; raise on failure."""
        began = time.monotonic()
        deadline = began + timeout
        try:
            self._write_files()
            self._epmd = subprocess.Popen(
                [EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            for node in self.nodes:
                self.start_node(node)
            for node in self.nodes:
                self.await_node(node, deadline)
            first = self.nodes[0]
            for node in self.nodes[1:]:
                self.ctl(node, "stop_app", deadline=deadline)
                self.ctl(node, "join_cluster", first.name, deadline=deadline)
                self.ctl(node, "start_app", deadline=deadline)
            self.await_running(len(self.nodes), deadline)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = round(time.monotonic() - began, 1)
        return self

    def start_node(self, node: ClusterNode) -> None:
        """Start ``node``'s VM (again, after a kill: it rejoins with its data)."""
        node.pid_file.unlink(missing_ok=True)
        with open(node.home / "stdout.log", "ab") as out:  # the child keeps its copy
            node.proc = subprocess.Popen(
                [str(RABBIT_BIN / "rabbitmq-server")], env=self._node_env(node),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=node.home, start_new_session=True)

    def await_node(self, node: ClusterNode, deadline: float) -> None:
        """Wait until ``node``'s broker has booted (``rabbitmqctl await_startup``)."""
        while True:
            if not node.alive():
                raise ClusterError(f"RabbitMQ node {node.name} exited before it booted:\n"
                                   f"{node.log_tail()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClusterError(f"RabbitMQ node {node.name} did not boot in time:\n"
                                   f"{node.log_tail()}")
            # await_startup fails at once while the VM is not yet registered with epmd.
            res = self._run(node, "await_startup", "--timeout", str(int(max(left, 5))),
                            timeout=left + 30)
            if res.returncode == 0:
                return
            time.sleep(1.0)

    def await_running(self, count: int, deadline: float) -> list[str]:
        """Wait until a live node reports ``count`` running nodes; returns their names."""
        running: list[str] = []
        while time.monotonic() < deadline:
            running = self.running_nodes()
            if len(running) >= count:
                return running
            time.sleep(1.0)
        raise ClusterError(f"the cluster reports {running or 'no node'} running, "
                           f"not {count} nodes, after waiting")

    def running_nodes(self) -> list[str]:
        """What a live node of the cluster reports as running (empty when none answers)."""
        for node in self.live_nodes():
            res = self._run(node, "cluster_status", "--formatter", "json", timeout=120)
            if res.returncode == 0:
                status: dict[str, Any] = json.loads(res.stdout)
                return sorted(status.get("running_nodes", []))
        return []

    def live_nodes(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.alive()]

    def kill(self, node: ClusterNode) -> float:
        """SIGKILL ``node``'s Erlang VM (no goodbye to peers or clients); returns the time
        (``time.time()``) of the kill."""
        pid = node.os_pid()
        if pid is None or node.proc is None:
            raise ClusterError(f"{node.name} is not running: nothing to kill")
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        node.proc.wait(timeout=60)  # the wrapper script exits with its VM
        return killed_at

    def stop(self) -> None:
        """Stop the nodes and the epmd this object started; remove the directory it made."""
        for node in self.nodes:
            if node.alive():
                self._run(node, "stop", timeout=90)
            pid = node.os_pid()
            if node.proc is None and pid is not None and runs(pid, str(node.home)):
                os.kill(pid, signal.SIGKILL)  # attached, and `rabbitmqctl stop` failed
            if node.proc is not None:
                try:
                    node.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    kill_group(node.proc)
            kill_group(node.proc)  # erl_child_setup and friends, if any outlived the VM
        if self._epmd is not None:
            kill_group(self._epmd)
            self._epmd = None
        elif self.epmd_pid and runs(self.epmd_pid, str(self.epmd_port)):
            os.kill(self.epmd_pid, signal.SIGKILL)  # attached: the epmd that start() ran
        if self._made_base and self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    # -- another process: scripts/rabbitmq-cluster ---------------------------------------------
    def save(self) -> Path:
        """Write what :meth:`attach` needs into ``base/cluster.json``; returns its path."""
        path = self.root / STATE
        path.write_text(json.dumps({
            "size": self.size, "prefix": self.prefix, "epmd_port": self.epmd_port,
            "epmd_pid": self._epmd.pid if self._epmd else self.epmd_pid,
            "start_seconds": self.start_seconds, "remove_base": self._made_base,
            "nodes": [[n.short, n.amqp_port, n.dist_port] for n in self.nodes]}, indent=1))
        return path

    @classmethod
    def attach(cls, base: Path) -> RabbitCluster:
        """The cluster a previous :meth:`start` + :meth:`save` left running under ``base``."""
        try:
            state = json.loads((base / STATE).read_text())
        except (OSError, ValueError) as exc:
            raise ClusterError(f"no cluster was started under {base} ({exc})") from exc
        cookie = (base / "home" / ".erlang.cookie").read_text()
        nodes = [ClusterNode(short, amqp, dist, base / short)
                 for short, amqp, dist in state["nodes"]]
        cluster = cls(base=base, size=state["size"], prefix=state["prefix"], cookie=cookie,
                      nodes=nodes, epmd_port=state["epmd_port"],
                      start_seconds=state["start_seconds"], epmd_pid=state["epmd_pid"])
        cluster._made_base = bool(state.get("remove_base"))
        return cluster

    # -- operations --------------------------------------------------------------------------
    def _run(self, node: ClusterNode, *args: str, timeout: float = 120,
             tool: str = "rabbitmqctl") -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([str(RABBIT_BIN / tool), "-q", "-n", node.name, *args],
                                  env=self.cli_env(), capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, 124, "", f"{tool} timed out")

    def ctl(self, node: ClusterNode | None, *args: str, deadline: float | None = None,
            tool: str = "rabbitmqctl") -> str:
        """Run ``tool`` (rabbitmqctl, rabbitmq-queues…) against ``node`` (a live one when None);
        raise :class:`ClusterError` with its output when it fails."""
        target = node or self.live_nodes()[0]
        left = (deadline - time.monotonic()) if deadline else 120.0
        res = self._run(target, *args, timeout=max(left, 30), tool=tool)
        if res.returncode != 0:
            raise ClusterError(f"{tool} -n {target.name} {' '.join(args)} failed "
                               f"({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
        return res.stdout

    def add_vhost(self, vhost: str, user: str = "guest") -> None:
        self.ctl(None, "add_vhost", vhost)
        self.ctl(None, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        if self.live_nodes():
            self._run(self.live_nodes()[0], "delete_vhost", vhost)

    def amqp_url(self, vhost: str = "/") -> str:
        """Every node's URL, comma-separated, in node order (``EFACTURE_AMQP_URL``), as the
        built-in ``guest`` user (allowed from loopback only, which is where the nodes listen)."""
        return ",".join(self.node_url(n, vhost) for n in self.nodes)

    def node_url(self, node: ClusterNode, vhost: str = "/") -> str:
        return f"amqp://guest:guest@127.0.0.1:{node.amqp_port}/{quote(vhost, safe='')}"

    def port_node(self, amqp_port: int) -> str:
        """The name of the node listening on ``amqp_port`` (the port itself when none is)."""
        return next((n.name for n in self.nodes if n.amqp_port == amqp_port), str(amqp_port))

    def node_named(self, name: str) -> ClusterNode:
        return next(n for n in self.nodes if n.name == name or n.short == name)
