"""A redelivered, accepted but not yet forwarded submission is analysed again to build the
archive's message. When that second analysis cannot look at the document (its worker timed
out or died on a loaded machine), the delivery is retried: it is never forwarded as kind
"other" with no number, date or profile."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from services.ingest import service as service_module
from services.ingest.adapters.repository import StoredSubmission
from services.ingest.domain.analysis import Analysis
from services.ingest.domain.reasons import reason
from services.ingest.domain.submission import decode
from services.ingest.service import IngestService
from shared.errors import RetryableError

pytestmark = pytest.mark.unit

BODY = b"<Invoice/>"


def _service(answer: Analysis, forwarded: list[Analysis],
             monkeypatch: pytest.MonkeyPatch) -> IngestService:
    svc = IngestService.__new__(IngestService)
    svc.rt = SimpleNamespace(pool=None, publish=None)  # type: ignore[assignment]

    async def analyse(body: bytes, content_type: str | None, *, sandbox: bool) -> Analysis:
        return answer

    async def forward(body: bytes, sub: Any, sha: str, invoice_id: uuid.UUID,
                      analysis: Analysis) -> None:
        forwarded.append(analysis)

    async def flush_for(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(svc, "_analyse", analyse)
    monkeypatch.setattr(svc, "_forward", forward)
    monkeypatch.setattr(service_module.outbox, "flush_for", flush_for)
    return svc


def _again(svc: IngestService) -> Any:
    sub = decode({}, "m-1", "application/xml", None, "invoice.submit.73282932000074")
    existing = StoredSubmission(uuid.uuid4(), "accepted", hashlib.sha256(BODY).hexdigest(),
                                forwarded=False)
    return asyncio.run(svc._again(existing, BODY, sub, existing.sha256, redelivered=True))


@pytest.mark.parametrize("code", ["analysis-timeout", "analysis-failed"])
def test_a_failed_second_analysis_is_retried_not_forwarded(
        code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    forwarded: list[Analysis] = []
    svc = _service(Analysis(kind="other", errors=(reason(code, "worker gone"),)), forwarded,
                   monkeypatch)
    with pytest.raises(RetryableError):
        _again(svc)
    assert forwarded == []


def test_a_good_second_analysis_is_forwarded(monkeypatch: pytest.MonkeyPatch) -> None:
    forwarded: list[Analysis] = []
    good = Analysis(kind="cii", profile="EN16931")
    verdict = _again(_service(good, forwarded, monkeypatch))
    assert forwarded == [good]
    assert verdict.accepted
    assert verdict.duplicate_delivery
