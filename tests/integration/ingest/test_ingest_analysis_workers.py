"""Ingest's analysis worker processes (issue 10 property 3): a stuck document is answered
``analysis-timeout`` and its worker replaced; a crash is ``analysis-failed``; with two
workers a good document is answered while a stuck one still runs; closing the pool turns an
in-flight analysis into a retry, never into a verdict."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from services.ingest.adapters.analyser import AnalysisWorkers
from services.ingest.domain.analysis import Analysis, analyse
from shared.errors import RetryableError
from tests.support.invoices import cii_invoice

pytestmark = pytest.mark.integration

STUCK, CRASH = b"<!-- stuck -->", b"<!-- crash -->"
FUNCTION = "tests.integration.ingest.test_ingest_analysis_workers:hostile_analyse"


def hostile_analyse(body: bytes, content_type: str | None, *, sandbox: bool,
                    max_bytes: int) -> Analysis:
    if STUCK in body:
        while True:
            time.sleep(60)
    if CRASH in body:
        os._exit(3)
    return analyse(body, content_type, sandbox=sandbox, max_bytes=max_bytes)


def _pool(size: int, timeout: float = 2) -> AnalysisWorkers:
    return AnalysisWorkers(size=size, timeout=timeout, max_bytes=10 * 1024 * 1024,
                           function=FUNCTION)


def _codes(a: Analysis) -> list[str]:
    return [e.code for e in a.errors]


def test_a_stuck_document_times_out_and_the_next_one_is_analysed() -> None:
    async def run() -> tuple[Analysis, Analysis, Analysis]:
        pool = _pool(1)
        await pool.start()
        try:
            stuck = await pool.analyse(cii_invoice("W-1") + STUCK, "application/xml",
                                       sandbox=True)
            crash = await pool.analyse(cii_invoice("W-2") + CRASH, "application/xml",
                                       sandbox=True)
            good = await pool.analyse(cii_invoice("W-3"), "application/xml", sandbox=True)
            return stuck, crash, good
        finally:
            pool.close()
    stuck, crash, good = asyncio.run(run())
    assert _codes(stuck) == ["analysis-timeout"]
    assert _codes(crash) == ["analysis-failed"]
    assert good.errors == ()
    assert good.invoice is not None
    assert good.invoice.number == "W-3"


def test_with_two_workers_a_good_document_is_not_held_behind_a_stuck_one() -> None:
    async def run() -> list[str]:
        pool = _pool(2, timeout=60)
        await pool.start()
        order: list[str] = []

        async def one(name: str, body: bytes) -> None:
            await pool.analyse(body, "application/xml", sandbox=True)
            order.append(name)
        try:
            stuck = asyncio.ensure_future(one("stuck", cii_invoice("W-4") + STUCK))
            await asyncio.sleep(0)
            await one("good", cii_invoice("W-5"))
            stuck.cancel()
            return order
        finally:
            pool.close()
    assert asyncio.run(run()) == ["good"]


def test_closing_the_pool_makes_an_in_flight_analysis_a_retry() -> None:
    async def run() -> None:
        pool = _pool(1, timeout=60)
        await pool.start()
        task = asyncio.ensure_future(pool.analyse(cii_invoice("W-6") + STUCK,
                                                  "application/xml", sandbox=True))
        await asyncio.sleep(0.5)
        pool.close()
        with pytest.raises(RetryableError):
            await task
    asyncio.run(run())
