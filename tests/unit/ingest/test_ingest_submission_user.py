"""Who may submit for which tenant (issue 10 property 1): the routing key
``invoice.submit.<SIRET>`` and a ``user_id`` ``erp-<SIRET>`` authenticate a tenant; operators
may submit for any tenant on plain ``invoice.submit``; any other ``user_id`` is refused."""

import pytest

from services.ingest.domain.submission import decode

pytestmark = pytest.mark.unit

A, B = "55208131700018", "73282932000074"
KEY_A, KEY_B, PLAIN = f"invoice.submit.{A}", f"invoice.submit.{B}", "invoice.submit"
OPS = ("guest", "ops-admin")


def _sub(tenant: str | None, user_id: str | None, rk: str | None = PLAIN):
    headers = {"tenant": tenant} if tenant is not None else {}
    return decode(headers, "m-1", "application/xml", user_id, rk, OPS)


def _codes(user_id: str | None, tenant: str | None = B, rk: str | None = PLAIN) -> list[str]:
    return [e.code for e in _sub(tenant, user_id, rk).errors]


def test_erp_user_claiming_another_tenant_is_forged_and_answered_on_its_own() -> None:
    sub = _sub(B, f"erp-{A}")
    assert [e.code for e in sub.errors] == ["tenant-forged"]
    assert sub.forged
    assert sub.tenant == A


def test_erp_user_submitting_for_itself_is_accepted() -> None:
    assert _codes(f"erp-{B}") == []
    assert _codes(f"erp-{B}", rk=KEY_B) == []


@pytest.mark.parametrize("user", [None, f"erp-{A}", "guest", "ops-admin"])
def test_the_routing_key_names_the_tenant_whatever_the_user_id(user: str | None) -> None:
    """A on its own key claiming B: forged, answered to A, with user_id set or absent."""
    sub = _sub(B, user, KEY_A)
    assert [e.code for e in sub.errors] == ["tenant-forged"]
    assert sub.tenant == A


def test_the_routing_key_alone_identifies_the_tenant_when_the_header_is_absent() -> None:
    sub = _sub(None, None, KEY_A)
    assert (sub.errors, sub.tenant) == ((), A)


def test_an_erp_user_on_another_tenants_key_is_forged() -> None:
    sub = _sub(B, f"erp-{A}", KEY_B)
    assert [e.code for e in sub.errors] == ["tenant-forged"]
    assert sub.tenant == A


@pytest.mark.parametrize("user", [None, "guest", "ops-admin"])
def test_operators_submit_for_any_tenant_on_the_plain_key(user: str | None) -> None:
    assert _codes(user, A) == []
    assert _codes(user, B) == []


@pytest.mark.parametrize("user", ["nobody", f"erp-{A}x", f"partner-{A}", ""])
def test_a_user_id_that_is_neither_operator_nor_erp_is_refused(user: str) -> None:
    for rk in (PLAIN, KEY_B):
        sub = _sub(B, user or "   ", rk)
        assert "tenant-forged" in [e.code for e in sub.errors]
        assert sub.forged


def test_a_garbage_header_on_a_tenant_key_is_answered_to_that_tenant() -> None:
    sub = _sub("not-a-siret", None, KEY_A)
    assert [e.code for e in sub.errors] == ["unknown-tenant"]
    assert sub.tenant == A


def test_an_unknown_routing_key_names_no_tenant() -> None:
    sub = _sub(B, None, "invoice.submit.x")
    assert "unknown-tenant" in [e.code for e in sub.errors]


def test_non_utf8_message_id_is_rejected() -> None:
    raw = b"\xff\xfe-id".decode("utf-8", errors="surrogateescape")
    sub = decode({"tenant": B}, raw, "application/xml")
    assert [e.code for e in sub.errors] == ["invalid-message-id"]
    assert sub.message_id is None


def test_non_utf8_content_type_is_invalid_and_sanitised() -> None:
    raw = b"application/\xffxml".decode("utf-8", errors="surrogateescape")
    sub = decode({"tenant": B}, "m-1", raw)
    assert [e.code for e in sub.errors] == ["invalid-content-type"]
    assert sub.content_type is not None
    sub.content_type.encode("utf-8")
