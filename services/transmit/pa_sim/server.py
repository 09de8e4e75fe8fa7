"""Serving the simulator: :func:`run` for ``efacture serve pa-sim``, :class:`SimServer` for tests.

Both bind 127.0.0.1 by default. A small ticker thread applies due state changes and
delivers webhook notifications (signed ``Afnor-Signature``), outside any request.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn

from services.transmit.pa_sim.app import Simulator, create_app
from services.transmit.pa_sim.config import SimConfig, config_from_env
from services.transmit.pa_sim.controls import TOKEN_HEADER, load_or_create_token
from services.transmit.pa_sim.faults import SimulatedHangup
from services.transmit.pa_sim.webhooks import sign
from shared.settings import Settings

HOST = "127.0.0.1"
log = logging.getLogger("efacture.pa_sim")


class _QuietHangups(logging.Filter):
    """Drop uvicorn's traceback for connections the simulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None and not isinstance(error, SimulatedHangup):
            error = error.__cause__ or error.__context__
        return error is None


def _quiet_hangups() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietHangups) for f in logger.filters):
        logger.addFilter(_QuietHangups())


class Ticker(threading.Thread):
    """Every ``period_s``: materialise due flows, POST pending webhook notifications."""

    def __init__(self, sim: Simulator, period_s: float = 0.2) -> None:
        super().__init__(name="pa-sim-ticker", daemon=True)
        self.sim, self.period_s = sim, period_s
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as http:
            while not self.stopping.wait(self.period_s):
                try:
                    self.sim.store.advance()
                    for url, key, payload in self.sim.store.webhooks.drain():
                        stamp = int(time.time())
                        try:
                            answer = http.post(url, content=payload, headers={
                                "Content-Type": "application/json",
                                "Afnor-Signature": sign(key, payload, stamp),
                                "Afnor-Signature-Timestamp": str(stamp)})
                            self.sim.store.webhooks.record(answer.status_code)
                        except httpx.HTTPError as exc:
                            self.sim.store.webhooks.record(None)
                            log.warning("webhook delivery to %s failed: %r", url, exc)
                except Exception:  # the ticker must outlive any one bad tick
                    log.exception("pa-sim ticker failed")


def run(settings: Settings, config: SimConfig | None = None) -> None:
    """Serve the simulator on ``bind_host:pa_sim_port`` until interrupted (blocking).

    ``config`` defaults to the environment (``EFACTURE_PA_SIM_*``, see ``config_from_env``);
    the control token lives in ``<data_dir>/pa-sim/control-token``.
    """
    token = load_or_create_token(settings.data_dir)
    sim = Simulator(config or config_from_env(), control_token=token)
    _quiet_hangups()
    Ticker(sim).start()
    uvicorn.run(create_app(simulator=sim), host=settings.bind_host, port=settings.pa_sim_port,
                log_level="warning", access_log=False, lifespan="off")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class SimServer:
    """A simulator served by uvicorn in a background thread (a context manager).

    ``with SimServer(SimConfig(ack_delay_s=0)) as sim: ...`` — ``sim.url`` is its base URL,
    ``sim.simulator`` its state, ``sim.control_headers`` what ``/_sim/*`` requests send.
    """

    def __init__(self, config: SimConfig | None = None, *, port: int | None = None) -> None:
        self.simulator = Simulator(config)
        _quiet_hangups()
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.control_headers = {TOKEN_HEADER: self.simulator.control_token}
        self._server = uvicorn.Server(uvicorn.Config(
            create_app(simulator=self.simulator), host=HOST, port=self.port,
            log_level="warning", access_log=False, lifespan="off",
        ))
        self._thread = threading.Thread(target=self._server.run, name="pa-sim", daemon=True)
        self._ticker = Ticker(self.simulator, period_s=0.05)

    def start(self, timeout_s: float = 10.0) -> SimServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"PA simulator did not start on port {self.port}")
            time.sleep(0.01)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._ticker.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
