"""Serving the simulator: :func:`run` for ``efacture serve pa-sim``, :class:`SimServer` for tests.

Both bind 127.0.0.1 only: the simulator has no authentication worth the name.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from services.transmit.pa_sim.app import SimulatedHangup, Simulator, create_app
from services.transmit.pa_sim.config import SimConfig, config_from_env
from shared.settings import Settings

HOST = "127.0.0.1"


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


def run(settings: Settings, config: SimConfig | None = None) -> None:
    """Serve the simulator on ``127.0.0.1:settings.pa_sim_port`` until interrupted (blocking).

    ``config`` defaults to the environment (``EFACTURE_PA_SIM_*``, see ``config_from_env``).
    """
    app = create_app(config or config_from_env())
    _quiet_hangups()
    uvicorn.run(app, host=settings.bind_host, port=settings.pa_sim_port, log_level="warning",
                access_log=False, lifespan="off")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class SimServer:
    """A simulator served by uvicorn in a background thread (a context manager).

    ``with SimServer(SimConfig(ack_delay_s=0)) as sim: ...`` — ``sim.url`` is its base URL,
    ``sim.simulator`` its state (configuration and store) for direct inspection.
    """

    def __init__(self, config: SimConfig | None = None, *, port: int | None = None) -> None:
        self.simulator = Simulator(config)
        _quiet_hangups()
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(
            create_app(simulator=self.simulator), host=HOST, port=self.port,
            log_level="warning", access_log=False, lifespan="off",
        ))
        self._thread = threading.Thread(target=self._server.run, name="pa-sim", daemon=True)

    def start(self, timeout_s: float = 10.0) -> SimServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"PA simulator did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
