"""A TCP forwarder on a free loopback port standing in for one broker node: ``kill`` makes the
"node" die (its listener closed, every connection through it cut) while the real RabbitMQ
behind it is untouched. Runs its own event loop in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support.infra import free_port


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1",
                 port: int | None = None) -> None:
        """``port``: listen there (a node coming back where it was), else on a free port."""
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.accepted = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    @property
    def live(self) -> int:
        """Connections open through this node now."""
        return len(self._writers) // 2

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):  # already cut
                writer.close()

    def kill(self) -> None:
        async def down() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                with contextlib.suppress(Exception):  # already cut
                    w.transport.abort()
            self._writers.clear()

        asyncio.run_coroutine_threadsafe(down(), self._loop).result(timeout=10)

    def close(self) -> None:
        self.kill()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
