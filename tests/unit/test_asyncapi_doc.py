"""The AsyncAPI document partners read is generated from the apps and committed up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from efacture.cli.ops import build_document

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_committed_asyncapi_document_matches_the_apps():
    assert json.loads(DOC.read_text()) == json.loads(build_document()), (
        "docs/asyncapi.json is stale: run `efacture asyncapi`")


def test_status_event_schema_lists_every_contract_key():
    schemas = json.loads(DOC.read_text())["components"]["schemas"]
    props = set(schemas["StatusEvent"]["properties"])
    assert {"schema", "event_id", "event", "occurred_at", "tenant", "submission_id", "invoice_id",
            "invoice_number", "lifecycle_code", "lifecycle_label", "reasons", "detail"} <= props
