"""Classification of Flow Service answers (contract section 5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.transmit.domain.failure import (
    Outcome,
    PaRefusal,
    classify,
    parse_retry_after,
    transport_failure,
    unauthorized_after_refresh,
)
from shared.errors import PermanentError, RetryableError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("status", [400, 413, 422])
def test_client_errors_are_permanent_and_carry_the_pa_reason(status: int) -> None:
    body = {"errorCode": "InvalidFlowInfo", "errorMessage": "flowProfile unknown"}
    with pytest.raises(PermanentError) as caught:
        classify(status, body)
    assert caught.value.code == f"pa-refused-{status}"
    assert isinstance(caught.value, PaRefusal)
    assert caught.value.error_code == "InvalidFlowInfo"
    assert "flowProfile unknown" in caught.value.message


def test_already_existing_flow_is_success() -> None:
    assert classify(409, {"errorCode": "AlreadyExistingFlow"}) is Outcome.ALREADY_EXISTS


def test_other_conflicts_are_permanent() -> None:
    with pytest.raises(PermanentError):
        classify(409, {"errorCode": "SomethingElse"})


def test_unauthorized_asks_for_a_token_refresh() -> None:
    assert classify(401, None) is Outcome.UNAUTHORIZED


def test_unauthorized_after_refresh_is_permanent() -> None:
    assert unauthorized_after_refresh().code == "pa-unauthorized"


def test_too_many_requests_is_retryable_after_the_header_delay() -> None:
    with pytest.raises(RetryableError) as caught:
        classify(429, {"errorCode": "TooMany"}, retry_after=7.0)
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retryable(status: int) -> None:
    with pytest.raises(RetryableError):
        classify(status, None)


@pytest.mark.parametrize("status", [200, 202])
def test_success_statuses_are_ok(status: int) -> None:
    assert classify(status, {"flowId": "x"}) is Outcome.OK


def test_transport_failures_are_retryable() -> None:
    assert isinstance(transport_failure("timeout"), RetryableError)
    assert transport_failure("connect").code == "pa-connect"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Fri, 27 Nov 2026 10:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Fri, 27 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon", now=now) is None
