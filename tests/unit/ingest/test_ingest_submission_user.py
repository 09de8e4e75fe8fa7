"""An ERP user ``erp-<SIRET>`` may only submit for its own tenant; others are unconstrained."""

import pytest

from services.ingest.domain.submission import decode

pytestmark = pytest.mark.unit

A, B = "55208131700018", "73282932000074"


def _codes(user_id: str | None, tenant: str = B) -> list[str]:
    sub = decode({"tenant": tenant}, "m-1", "application/xml", user_id)
    return [e.code for e in sub.errors]


def test_erp_user_claiming_another_tenant_is_forged_and_answered_on_its_own() -> None:
    sub = decode({"tenant": B}, "m-1", "application/xml", f"erp-{A}")
    assert [e.code for e in sub.errors] == ["tenant-forged"]
    assert sub.forged
    assert sub.tenant == A


def test_erp_user_submitting_for_itself_is_accepted() -> None:
    assert _codes(f"erp-{B}") == []


@pytest.mark.parametrize("user", [None, "guest", "ops-admin", f"erp-{A}x", f"partner-{A}"])
def test_other_users_are_not_constrained(user: str | None) -> None:
    assert _codes(user) == []


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
