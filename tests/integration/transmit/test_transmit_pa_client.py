"""PaClient against the real simulator over HTTP (uvicorn in a background thread)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from services.transmit.adapters.cdar_schema import read_statuses
from services.transmit.adapters.pa_client import PaClient, PaCredentials, PaEndpoint
from services.transmit.domain.breaker import BreakerState, CircuitBreaker
from services.transmit.domain.flow import flow_info, sha256_hex
from services.transmit.pa_sim import SimConfig, SimServer, free_port
from services.transmit.pa_sim.app import REFUSED_SECRET
from shared.errors import PermanentError, RetryableError

pytestmark = pytest.mark.integration

T = TypeVar("T")
CONTENT = b"<rsm:CrossIndustryInvoice>simulated</rsm:CrossIndustryInvoice>"
ANY_IN = {"flowDirection": ["In"]}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(ack_delay_s=0.05, lifecycle_interval_s=0.01)) as server:
        yield server


@pytest.fixture
def control(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers=sim.control_headers) as client:
        client.post("/_sim/reset", json={}).raise_for_status()
        yield client
        client.post("/_sim/reset", json={}).raise_for_status()


@pytest.fixture
def creds(sim: SimServer) -> PaCredentials:
    return PaCredentials(endpoint=PaEndpoint(base_url=sim.url), client_id="73282932000074",
                         client_secret=SecretStr("s3cret"))


def run(make: Callable[[PaClient], Awaitable[T]], **client_args: Any) -> T:
    async def main() -> T:
        async with PaClient(**client_args) as client:
            return await make(client)
    return asyncio.run(main())


def new_flow() -> dict[str, str]:
    return flow_info(tracking_id=uuid.uuid4(), name="F2026-0042.xml", syntax="cii",
                     profile="EN16931", sha256=sha256_hex(CONTENT))


def configure(control: httpx.Client, **knobs: Any) -> None:
    control.post("/_sim/config", json=knobs).raise_for_status()


def test_repeated_upload_is_reported_as_already_existing_with_the_same_flow_id(
        control: httpx.Client, creds: PaCredentials) -> None:
    info = new_flow()

    async def twice(client: PaClient) -> tuple[Any, Any]:
        first = await client.upload(creds, info, "F2026-0042.xml", CONTENT)
        second = await client.upload(creds, info, "F2026-0042.xml", CONTENT)
        return first, second

    first, second = run(twice)
    assert not first.already_existed
    assert second.already_existed
    assert second.flow_id == first.flow_id
    stats = control.get("/_sim/stats").json()
    assert stats["by_tracking_id"] == {info["trackingId"]: 1}
    assert stats["uploads_attempted"] == 2
    assert stats["flows"] == 1


def test_search_finds_the_uploaded_flow_by_tracking_id(
        control: httpx.Client, creds: PaCredentials) -> None:
    info = new_flow()

    async def upload_then_find(client: PaClient) -> tuple[Any, Any]:
        result = await client.upload(creds, info, "f.xml", CONTENT)
        return result, await client.find_by_tracking_id(creds, info["trackingId"])

    result, found = run(upload_then_find)
    assert found is not None
    assert found["flowId"] == result.flow_id
    assert found["flowSyntax"] == "CII"
    assert run(lambda client: client.find_by_tracking_id(creds, "unknown")) is None


def test_flow_is_acknowledged_ok_after_the_delay(control: httpx.Client,
                                                 creds: PaCredentials) -> None:
    async def upload_and_wait(client: PaClient) -> Any:
        result = await client.upload(creds, new_flow(), "f.xml", CONTENT)
        for _ in range(200):
            status = await client.get_flow(creds, result.flow_id)
            if status.ack_status != "Pending":
                return status
            await asyncio.sleep(0.01)
        raise AssertionError("flow stayed Pending")

    status = run(upload_and_wait)
    assert status.ack_status == "Ok"
    assert status.reasons == ()


def test_ack_error_reports_the_reasons(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, ack_error_rate=1.0, ack_delay_s=0)

    async def upload_and_read(client: PaClient) -> Any:
        result = await client.upload(creds, new_flow(), "f.xml", CONTENT)
        return await client.get_flow(creds, result.flow_id)

    status = run(upload_and_read)
    assert status.ack_status == "Error"
    assert status.reasons
    assert status.reasons[0].code


def test_injected_503_is_retryable(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, failure_rate=1.0, failure_status=503)
    with pytest.raises(RetryableError) as caught:
        run(lambda client: client.upload(creds, new_flow(), "f.xml", CONTENT))
    assert caught.value.code == "pa-503"


def test_platform_down_is_retryable(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, down=True)
    with pytest.raises(RetryableError):
        run(lambda client: client.upload(creds, new_flow(), "f.xml", CONTENT))


def test_dropped_connection_is_retryable(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, down=True, down_mode="close")
    with pytest.raises(RetryableError) as caught:
        run(lambda client: client.upload(creds, new_flow(), "f.xml", CONTENT))
    assert caught.value.code == "pa-connect"
    assert control.get("/health").status_code == 200


def test_injected_422_is_permanent(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, failure_rate=1.0, failure_status=422)
    with pytest.raises(PermanentError) as caught:
        run(lambda client: client.upload(creds, new_flow(), "f.xml", CONTENT))
    assert caught.value.code == "pa-refused-422"


def test_digest_mismatch_is_refused_permanently(control: httpx.Client,
                                                creds: PaCredentials) -> None:
    info = {**new_flow(), "sha256": sha256_hex(b"other bytes")}
    with pytest.raises(PermanentError) as caught:
        run(lambda client: client.upload(creds, info, "f.xml", CONTENT))
    assert caught.value.code == "pa-refused-422"
    assert control.get("/_sim/stats").json()["flows"] == 0


def test_injected_429_is_retryable_after_the_announced_delay(
        control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, failure_rate=1.0, failure_status=429, retry_after=42)
    with pytest.raises(RetryableError) as caught:
        run(lambda client: client.upload(creds, new_flow(), "f.xml", CONTENT))
    assert caught.value.retry_after == 42


def test_timeout_is_retryable(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, latency_ms=500)
    with pytest.raises(RetryableError) as caught:
        run(lambda client: client.search(creds, ANY_IN), timeout=httpx.Timeout(0.1))
    assert caught.value.code == "pa-timeout"


def test_connection_refused_is_retryable(creds: PaCredentials) -> None:
    nowhere = PaCredentials(endpoint=PaEndpoint(base_url=f"http://127.0.0.1:{free_port()}"),
                            client_id="x", client_secret=SecretStr("y"))
    with pytest.raises(RetryableError) as caught:
        run(lambda client: client.search(nowhere, ANY_IN))
    assert caught.value.code == "pa-connect"


def test_revoked_token_is_refreshed_once_and_the_call_succeeds(
        control: httpx.Client, creds: PaCredentials) -> None:
    async def scenario(client: PaClient) -> Any:
        await client.search(creds, ANY_IN)
        revoked = await asyncio.to_thread(control.post, "/_sim/revoke-tokens", json={})
        revoked.raise_for_status()
        return await client.upload(creds, new_flow(), "f.xml", CONTENT)

    result = run(scenario)
    assert not result.already_existed
    assert control.get("/_sim/stats").json()["tokens_issued"] == 2


def test_token_is_reused_until_it_expires(control: httpx.Client, creds: PaCredentials) -> None:
    async def three_calls(client: PaClient) -> None:
        for _ in range(3):
            await client.search(creds, ANY_IN)

    run(three_calls)
    assert control.get("/_sim/stats").json()["tokens_issued"] == 1


def test_expired_token_is_replaced(control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, expires_in=1)

    async def across_expiry(client: PaClient) -> None:
        await client.search(creds, ANY_IN)
        await asyncio.sleep(1.1)
        await client.search(creds, ANY_IN)

    run(across_expiry, token_margin_s=0)
    assert control.get("/_sim/stats").json()["tokens_issued"] == 2


def test_persistent_401_refreshes_only_once_then_is_permanent(
        control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, failure_rate=1.0, failure_status=401)
    with pytest.raises(PermanentError) as caught:
        run(lambda client: client.search(creds, ANY_IN))
    assert caught.value.code == "pa-unauthorized"
    assert control.get("/_sim/stats").json()["tokens_issued"] == 2


def test_refused_client_secret_is_permanent(control: httpx.Client, sim: SimServer) -> None:
    bad = PaCredentials(endpoint=PaEndpoint(base_url=sim.url), client_id="x",
                        client_secret=SecretStr(REFUSED_SECRET))
    with pytest.raises(PermanentError) as caught:
        run(lambda client: client.search(bad, ANY_IN))
    assert caught.value.code == "pa-unauthorized"


def test_lifecycle_statuses_arrive_as_inbound_cdar_flows(
        control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, ack_delay_s=0, lifecycle_codes=[202, 205])
    info = new_flow()
    where = {"flowDirection": ["In"], "flowType": ["CustomerInvoiceLC"],
             "updatedAfter": "2000-01-01T00:00:00Z"}

    async def upload_and_poll(client: PaClient) -> tuple[list[dict[str, Any]], list[bytes]]:
        await client.upload(creds, info, "F2026-0042.xml", CONTENT)
        for _ in range(500):
            found = await client.search(creds, where, limit=1)  # one per page: follows cursors
            if len(found) >= 2:
                files = [await client.download(creds, f["flowId"]) for f in found]
                return found, files
            await asyncio.sleep(0.01)
        raise AssertionError("lifecycle flows never appeared")

    found, files = run(upload_and_poll)
    assert [(f["flowSyntax"], f["flowType"], f["flowDirection"]) for f in found] == [
        ("CDAR", "CustomerInvoiceLC", "In")] * 2
    statuses = [read_statuses(data)[0] for data in files]
    assert [(s.code, s.invoice_number) for s in statuses] == [(202, "F2026-0042"),
                                                              (205, "F2026-0042")]
    later = run(lambda client: client.search(creds, {**where,
                                                     "updatedAfter": found[-1]["updatedAt"]}))
    assert later == []


def test_another_client_never_sees_the_flows(control: httpx.Client, sim: SimServer,
                                             creds: PaCredentials) -> None:
    other = PaCredentials(endpoint=creds.endpoint, client_id="55208131700010",
                          client_secret=SecretStr("other"))
    info = new_flow()

    async def scenario(client: PaClient) -> tuple[Any, Any, Any]:
        result = await client.upload(creds, info, "f.xml", CONTENT)
        seen = await client.find_by_tracking_id(other, info["trackingId"])
        with pytest.raises(PermanentError) as caught:
            await client.get_flow(other, result.flow_id)
        return result, seen, caught.value.code

    _result, seen, code = run(scenario)
    assert seen is None
    assert code == "pa-refused-404"


def test_breaker_opens_on_a_failing_platform_and_stops_calling_it(
        control: httpx.Client, creds: PaCredentials) -> None:
    configure(control, failure_rate=1.0, failure_status=500)

    async def hammer(client: PaClient) -> tuple[list[str], BreakerState]:
        codes = []
        for _ in range(15):
            try:
                await client.upload(creds, new_flow(), "f.xml", CONTENT)
            except RetryableError as exc:
                codes.append(exc.code)
        return codes, client.breaker_state(creds.endpoint)

    codes, state = run(hammer, breaker_factory=lambda: CircuitBreaker(cooldown_s=3600))
    assert state is BreakerState.OPEN
    assert codes[:10] == ["pa-500"] * 10
    assert codes[10:] == ["pa-circuit-open"] * 5
    assert control.get("/_sim/stats").json()["uploads_attempted"] == 10


def test_concurrent_uploads_share_one_token(control: httpx.Client,
                                            creds: PaCredentials) -> None:
    async def many(client: PaClient) -> int:
        results = await asyncio.gather(*(client.upload(creds, new_flow(), "f.xml", CONTENT)
                                         for _ in range(30)))
        return len({r.flow_id for r in results})

    assert run(many) == 30
    stats = control.get("/_sim/stats").json()
    assert stats["tokens_issued"] == 1
    assert stats["flows"] == 30


def test_latency_is_injected_without_blocking_other_requests(
        control: httpx.Client, sim: SimServer) -> None:
    # The health check must answer while a delayed request is still sleeping.
    configure(control, latency_ms=1000)

    async def slow_and_health() -> int:
        async with httpx.AsyncClient(base_url=sim.url) as client:
            slow = asyncio.create_task(client.post("/v1/flows/search", json={"where": {}}))
            await asyncio.sleep(0.05)
            health = await client.get("/health")
            assert not slow.done()
            await slow
            return health.status_code

    assert asyncio.run(slow_and_health()) == 200


class _Paths(httpx.AsyncBaseTransport):
    """Records each request's method and path, then forwards it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        return await self.inner.handle_async_request(request)


def test_the_half_open_probe_is_the_healthcheck(control: httpx.Client,
                                                creds: PaCredentials) -> None:
    configure(control, failure_rate=1.0, failure_status=500)
    paths = _Paths()

    async def scenario(client: PaClient) -> tuple[BreakerState, list[str], list[str]]:
        for _ in range(10):
            with pytest.raises(RetryableError):
                await client.upload(creds, new_flow(), "f.xml", CONTENT)
        opened = client.breaker_state(creds.endpoint)
        await asyncio.to_thread(configure, control, down=True, failure_rate=0.0)
        paths.seen.clear()
        with pytest.raises(RetryableError):
            await client.upload(creds, new_flow(), "f.xml", CONTENT)
        refused_probe = list(paths.seen)
        await asyncio.to_thread(configure, control, down=False)
        paths.seen.clear()
        await client.upload(creds, new_flow(), "f.xml", CONTENT)
        return opened, refused_probe, list(paths.seen)

    opened, refused_probe, healed = run(
        scenario, transport=paths, breaker_factory=lambda: CircuitBreaker(cooldown_s=0))
    assert opened is BreakerState.HALF_OPEN  # cool-down 0: open, and due for a probe
    assert refused_probe == ["GET /v1/healthcheck"]  # the platform is down: no upload sent
    assert healed == ["GET /v1/healthcheck", "POST /v1/flows"]
