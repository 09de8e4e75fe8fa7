"""Document analysis in persistent worker processes, with a wall-clock limit per document.

Contract: :meth:`AnalysisWorkers.analyse` returns an :class:`Analysis` for any input. A
document whose analysis outlasts ``timeout`` seconds is answered with ``analysis-timeout``:
its worker is killed (a parser stuck in C cannot be interrupted any other way) and replaced,
so the next document waits for a free worker at most that long. A worker that dies under a
document (a crash, the kernel's OOM killer) answers ``analysis-failed``. Workers are started
once and reused (no process per document); each is single-threaded, so lxml's per-process
caches (compiled schemas, XPaths) stay valid. Closing the pool makes in-flight analyses
raise :class:`RetryableError`: a shutdown is never mistaken for a verdict on a document.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from services.ingest.domain.analysis import Analysis
from services.ingest.domain.reasons import reason
from shared.errors import RetryableError
from shared.logging import get_logger

log = get_logger(__name__)

DEFAULT_FUNCTION = "services.ingest.domain.analysis:analyse"
_CTX = multiprocessing.get_context("spawn")  # never fork a process that runs an event loop


def _load(function: str) -> Callable[..., Analysis]:
    module, _, name = function.partition(":")
    fn: Callable[..., Analysis] = getattr(importlib.import_module(module), name)
    return fn


# Skeletons that take the analyser through detection, schema and rules once per syntax.
_WARM_UP = (
    b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
    b'CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:'
    b'ReusableAggregateBusinessInformationEntity:100"><rsm:ExchangedDocumentContext>'
    b"<ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID>"
    b"</ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>"
    b"</rsm:CrossIndustryInvoice>",
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="urn:'
    b'oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"><cbc:CustomizationID>'
    b"urn:cen.eu:en16931:2017</cbc:CustomizationID></Invoice>",
)


def _warm_up(analyse: Callable[..., Analysis], max_bytes: int) -> None:
    """Pay the lazy costs (XSD compilation: over a second on a loaded machine) before the
    first document, whose wall-clock limit must measure the document, not the worker."""
    from services.ingest.domain import schema

    for relative in sorted({*schema._CII_XSD.values(), schema._UBL_INVOICE,
                            schema._UBL_CREDIT}):
        schema.compiled(relative)
    for body in _WARM_UP:
        analyse(body, "application/xml", sandbox=True, max_bytes=max_bytes)


def _serve(conn: Connection, function: str, max_bytes: int) -> None:
    """The worker's loop: one request in, one :class:`Analysis` out, until the pipe closes."""
    analyse = _load(function)
    _warm_up(analyse, max_bytes)
    conn.send("ready")
    while True:
        try:
            body, content_type, sandbox = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(analyse(body, content_type, sandbox=sandbox, max_bytes=max_bytes))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, function: str, max_bytes: int) -> None:
        self.conn, child = _CTX.Pipe()
        self.proc: BaseProcess = _CTX.Process(
            target=_serve, args=(child, function, max_bytes), name="efacture-analyse",
            daemon=True)
        self.proc.start()
        child.close()
        if self.conn.recv() != "ready":  # raises EOFError when the worker failed to start
            raise RuntimeError("the analysis worker did not start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class AnalysisWorkers:
    """``size`` persistent analysis processes; ``analyse`` waits for a free one."""

    def __init__(self, *, size: int, timeout: float, max_bytes: int,
                 function: str = DEFAULT_FUNCTION) -> None:
        self.size, self.timeout, self.max_bytes, self.function = size, timeout, max_bytes, function
        # One thread per worker does the blocking pipe I/O; the event loop stays free.
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="analyse")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._respawning: set[asyncio.Future[None]] = set()

    def _spawn(self) -> _Worker:
        worker = _Worker(self.function, self.max_bytes)
        with self._lock:
            if not self._closed:
                self._all.add(worker)
                return worker
        worker.kill()  # started while the pool was closing
        raise RetryableError("ingest is stopping: the document will be analysed again")

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    async def start(self) -> None:
        """Start every worker (each imports the analyser once)."""
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        for worker in await asyncio.gather(
                *(loop.run_in_executor(self._threads, self._spawn) for _ in range(self.size))):
            self._idle.put_nowait(worker)

    def _run(self, worker: _Worker, request: tuple[bytes, str | None, bool]
             ) -> tuple[_Worker | None, Analysis]:
        """Blocking: send, wait at most ``timeout``; kill the worker when it fails (``None``
        comes back instead of it: the caller replaces it)."""
        try:
            worker.conn.send(request)
            answered = worker.conn.poll(self.timeout)
            if answered:
                result = worker.conn.recv()
                if isinstance(result, Analysis):
                    return worker, result
            code = "analysis-failed" if answered else "analysis-timeout"
        except (EOFError, OSError):
            code = "analysis-failed"
        if self._closed:
            raise RetryableError("ingest is stopping: the document will be analysed again")
        self._retire(worker)
        message = (f"The document could not be analysed within {self.timeout:g} seconds."
                   if code == "analysis-timeout"
                   else "The document made its analysis process fail.")
        answer = Analysis(kind="other", errors=(reason(code, message),))
        log.warning("analysis-worker-replaced", reason=code)
        return None, answer

    async def _replace(self) -> None:
        """Start a worker in the background and make it available once it is warm."""
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                self._idle.put_nowait(await loop.run_in_executor(self._threads, self._spawn))
                return
            except RetryableError:
                return
            except Exception as exc:  # resources short for a moment: try again, never give up
                log.error("analysis-worker-start-failed", error=type(exc).__name__)
                await asyncio.sleep(1)

    async def analyse(self, body: bytes, content_type: str | None, *, sandbox: bool
                      ) -> Analysis:
        """The document's :class:`Analysis`; raises :class:`RetryableError` when closing."""
        if self._idle is None:
            await self.start()
        assert self._idle is not None
        worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        try:
            kept, result = await loop.run_in_executor(
                self._threads, self._run, worker, (body, content_type, sandbox))
        except asyncio.CancelledError:
            # The thread still owns the worker; it cannot be handed to anyone else.
            self._retire(worker)
            task = asyncio.ensure_future(self._replace())
            self._respawning.add(task)
            task.add_done_callback(self._respawning.discard)
            raise
        if kept is not None:
            self._idle.put_nowait(kept)
        elif not self._closed:
            # Answer now; the replacement warms up meanwhile (the other workers keep serving).
            task = asyncio.ensure_future(self._replace())
            self._respawning.add(task)
            task.add_done_callback(self._respawning.discard)
        return result

    def close(self) -> None:
        """Kill every worker (in-flight analyses raise :class:`RetryableError`)."""
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)


def pool_from(settings: Any) -> AnalysisWorkers:
    """The pool the settings describe (``analysis_*`` knobs)."""
    return AnalysisWorkers(size=settings.analysis_workers,
                           timeout=settings.analysis_timeout_seconds,
                           max_bytes=settings.max_document_bytes,
                           function=settings.analysis_function)
