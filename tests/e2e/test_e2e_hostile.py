"""Hostile input through the real broker (issue 7 item 3).

Every bad message is answered by a ``rejected`` event carrying a machine-readable code, the
good invoice published right after it is still archived, the ingest consumer keeps its PID
across the whole module, and its peak memory stays far below what any bomb would expand to.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika.exceptions
import pytest

from tests.support import hostile
from tests.support.infra import Infra
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import StatusListener, System

pytestmark = pytest.mark.e2e

MAX_BYTES = 200_000
OTHER_TENANT = "73282932000074"       # registered, sandbox, not the template's seller
STRICT_TENANT = "55208131700018"      # registered, NOT sandbox, the template seller's SIREN
BAD_LUHN_TENANT = "55208131700011"    # refused by `tenant add` without --sandbox
BAD_LUHN_SELLER = "55208131700011"
# A bomb expanded would need gigabytes; the consumer's peak RSS may grow by at most this.
MEMORY_HEADROOM_KB = 256 * 1024


class Trap:
    """A TCP port that records whether anything ever connected (for network XXE)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.hits = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


@dataclass(frozen=True)
class Case:
    body: Callable[[], bytes]
    codes: frozenset[str]           # the rejection must carry one of these
    content_type: str | bytes | None = "application/xml"
    headers: dict[str, Any] = field(default_factory=lambda: {"tenant": TENANT, "transmit": False})
    message_id: str | bytes | None = None   # None: a fresh uuid


def _plain_pdf_headers(tenant: str = TENANT) -> dict[str, Any]:
    return {"tenant": tenant, "transmit": False, "invoice-number": "PDF-1",
            "issue-date": "2026-11-02", "recipient-id": "73282932000074"}


CASES: dict[str, Case] = {
    "xxe-file": Case(hostile.xxe_file, frozenset({"xml-forbidden-dtd"})),
    "billion-laughs": Case(hostile.billion_laughs, frozenset({"xml-forbidden-dtd"})),
    "quadratic-blowup": Case(hostile.quadratic_blowup, frozenset({"xml-forbidden-dtd"})),
    "deep-nesting": Case(hostile.deep_nesting, frozenset({"xml-too-deep", "xml-malformed"})),
    "just-over-size-limit": Case(lambda: hostile.just_over(MAX_BYTES), frozenset({"too-large"})),
    "truncated-pdf": Case(hostile.truncated_pdf, frozenset({"pdf-malformed"}),
                          content_type="application/pdf"),
    "encrypted-pdf": Case(hostile.encrypted_pdf, frozenset({"pdf-encrypted"}),
                          content_type="application/pdf"),
    "javascript-plain-pdf-archive-only": Case(
        hostile.javascript_pdf, frozenset({"pdf-active-content"}), content_type="application/pdf",
        headers=_plain_pdf_headers()),
    "launch-action-factur-x": Case(
        hostile.open_action_pdf, frozenset({"pdf-active-content"}),
        content_type="application/pdf"),
    "javascript-open-action-factur-x": Case(
        lambda: hostile.open_action_pdf("/JavaScript"), frozenset({"pdf-active-content"}),
        content_type="application/pdf"),
    "factur-x-with-entity-bomb": Case(hostile.facturx_bomb, frozenset({"xml-forbidden-dtd"}),
                                      content_type="application/pdf"),
    "factur-x-with-zip-bomb": Case(hostile.facturx_zip_bomb,
                                   frozenset({"pdf-malformed", "too-large"}),
                                   content_type="application/pdf"),
    "unknown-content-type": Case(lambda: cii_invoice("CT-1"), frozenset({"invalid-content-type"}),
                                 content_type="image/png"),
    "pdf-content-type-on-xml": Case(lambda: cii_invoice("CT-2"),
                                    frozenset({"content-type-mismatch"}),
                                    content_type="application/pdf"),
    "missing-tenant": Case(lambda: cii_invoice("T-1"), frozenset({"unknown-tenant"}),
                           headers={"transmit": False}),
    "tenant-not-a-siret": Case(lambda: cii_invoice("T-2"), frozenset({"unknown-tenant"}),
                               headers={"tenant": TENANT + "' OR 1=1 --", "transmit": False}),
    "tenant-of-someone-else": Case(lambda: hostile.seller_siret("T-3", STRICT_TENANT),
                                   frozenset({"tenant-mismatch"}),
                                   headers={"tenant": OTHER_TENANT, "transmit": False}),
    "tenant-failing-luhn-never-registered": Case(
        lambda: cii_invoice("T-4"), frozenset({"unknown-tenant"}),
        headers={"tenant": BAD_LUHN_TENANT, "transmit": False}),
    "seller-siret-failing-luhn-for-a-real-tenant": Case(
        lambda: hostile.seller_siret("T-5", BAD_LUHN_SELLER), frozenset({"FR-SIRET-checksum"}),
        headers={"tenant": STRICT_TENANT, "transmit": False}),
    # AMQP's message_id is a short string: 255 bytes is the longest that can be sent at all.
    "message-id-of-255-chars": Case(lambda: cii_invoice("M-1"),
                                    frozenset({"message-id-too-long"}), message_id="m" * 255),
    "non-utf8-tenant-header": Case(lambda: cii_invoice("H-1"), frozenset({"unknown-tenant"}),
                                   headers={"tenant": b"\xff\xfe" + TENANT.encode(),
                                            "transmit": False}),
    "non-utf8-transmit-header": Case(lambda: cii_invoice("H-2"), frozenset({"invalid-header"}),
                                     headers={"tenant": TENANT, "transmit": b"\xc3\x28"}),
    "non-utf8-content-type": Case(lambda: cii_invoice("H-3"), frozenset({"invalid-content-type"}),
                                  content_type=b"application/\xffxml"),
    "non-utf8-message-id": Case(lambda: cii_invoice("H-4"), frozenset({"invalid-message-id"}),
                                message_id=b"\xff\xfe-not-utf8"),
    "zero-byte-body": Case(lambda: b"", frozenset({"empty-body"})),
}


@pytest.fixture(scope="module")
def system(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-hostile"),
                  EFACTURE_MAX_DOCUMENT_BYTES=str(MAX_BYTES))
    sys_.start()
    try:
        yield sys_
    finally:
        sys_.stop()


@pytest.fixture(scope="module")
def publisher(system: System) -> Iterator[hostile.RawPublisher]:
    pub = hostile.RawPublisher(system.infra.amqp_url)
    yield pub
    pub.close()


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.close()


@pytest.fixture(scope="module")
def baseline(system: System, listener: StatusListener,
             publisher: hostile.RawPublisher) -> dict[str, Any]:
    """Tenants registered, one good invoice archived (warm caches), then the ingest PID and
    peak RSS recorded."""
    for siret, sandbox in ((TENANT, True), (OTHER_TENANT, True), (STRICT_TENANT, False)):
        system.cli("tenant", "add", siret, "--name", f"T{siret}", "--subscribed-on",
                   "2026-01-01", *(["--sandbox"] if sandbox else []))
    _good_invoice_is_archived(publisher, listener, "warm-up")
    [pid] = system.child_pids("ingest")
    return {"pid": pid, "hwm_kb": _peak_rss_kb(pid)}


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def _good_invoice_is_archived(pub: hostile.RawPublisher, listener: StatusListener,
                              label: str) -> None:
    mid = f"good-after-{label}-{uuid.uuid4().hex[:8]}"
    pub.publish(cii_invoice(f"GOOD-{uuid.uuid4().hex[:12]}"), message_id=mid,
                content_type="application/xml", headers={"tenant": TENANT, "transmit": False})
    listener.wait_for(lambda ev: any(e["submission_id"] == mid and e["event"] == "archived"
                                     for e in ev))


def test_a_siret_failing_luhn_cannot_become_a_real_tenant(system: System) -> None:
    res = system.cli("tenant", "add", BAD_LUHN_TENANT, "--name", "Bad", "--subscribed-on",
                     "2026-01-01", check=False)
    assert res.returncode == 1
    assert "Luhn" in res.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_message_is_rejected_with_a_code_and_the_next_good_invoice_is_archived(
    name: str, system: System, listener: StatusListener, publisher: hostile.RawPublisher,
    baseline: dict[str, Any],
) -> None:
    case = CASES[name]
    mid = case.message_id if case.message_id is not None else f"{name}-{uuid.uuid4().hex[:8]}"
    seen = {e["event_id"] for e in listener.snapshot()}
    publisher.publish(case.body(), message_id=mid, content_type=case.content_type,
                      headers=case.headers)

    def answered(e: dict[str, Any]) -> bool:
        if e["event_id"] in seen or e["event"] not in ("rejected", "received"):
            return False
        if e["submission_id"] is not None:
            return e["submission_id"] == mid
        return any(r["code"] in case.codes for r in e["reasons"])  # no usable message_id

    events = listener.wait_for(lambda ev: any(answered(e) for e in ev))
    [verdict] = [e for e in events if answered(e)]
    assert verdict["event"] == "rejected"
    codes = {r["code"] for r in verdict["reasons"]}
    assert codes & case.codes, f"{name}: got {codes}, expected one of {set(case.codes)}"
    assert all(r["message"] for r in verdict["reasons"])
    _good_invoice_is_archived(publisher, listener, name)


def test_a_10000_char_message_id_cannot_even_leave_the_client(
    publisher: hostile.RawPublisher, baseline: dict[str, Any],
) -> None:
    with pytest.raises(pika.exceptions.ShortStringTooLong):
        publisher.publish(cii_invoice("M-2"), message_id="m" * 10_000,
                          content_type="application/xml", headers={"tenant": TENANT})


def test_a_non_utf8_header_name_does_not_block_the_queue(
    listener: StatusListener, publisher: hostile.RawPublisher, baseline: dict[str, Any],
) -> None:
    # pamqp decodes table keys as strict UTF-8: without the lenient decoder the frame is
    # undecodable, the connection drops and the message is redelivered until dead-lettered.
    mid = f"odd-key-{uuid.uuid4().hex[:8]}"
    publisher.publish(cii_invoice(f"KEY-{uuid.uuid4().hex[:8]}"), message_id=mid,
                      content_type="application/xml",
                      headers={"tenant": TENANT, "transmit": False, b"\xff\xfe": "x"})  # type: ignore[dict-item]
    listener.wait_for(lambda ev: any(e["submission_id"] == mid and e["event"] == "archived"
                                     for e in ev))


def test_network_entities_are_never_fetched(
    trap: Trap, system: System, listener: StatusListener, publisher: hostile.RawPublisher,
    baseline: dict[str, Any],
) -> None:
    mid = f"xxe-net-{uuid.uuid4().hex[:8]}"
    publisher.publish(hostile.xxe_network(f"http://127.0.0.1:{trap.port}/evil.dtd"),
                      message_id=mid, content_type="application/xml",
                      headers={"tenant": TENANT, "transmit": False})
    events = listener.wait_for(lambda ev: any(e["submission_id"] == mid for e in ev))
    [verdict] = [e for e in events if e["submission_id"] == mid]
    assert verdict["event"] == "rejected"
    assert [r["code"] for r in verdict["reasons"]] == ["xml-forbidden-dtd"]
    _good_invoice_is_archived(publisher, listener, "xxe-net")
    assert trap.hits == 0


def test_the_ingest_consumer_never_restarted(system: System, baseline: dict[str, Any]) -> None:
    assert system.child_pids("ingest") == [baseline["pid"]]


def test_the_ingest_consumer_peak_memory_stayed_bounded(
    system: System, baseline: dict[str, Any]
) -> None:
    grown = _peak_rss_kb(baseline["pid"]) - baseline["hwm_kb"]
    print(f"ingest peak RSS {baseline['hwm_kb']} KiB after warm-up, grew by {grown} KiB")
    assert grown < MEMORY_HEADROOM_KB, f"ingest peak RSS grew by {grown} KiB"
