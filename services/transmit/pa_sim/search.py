"""``POST /v1/flows/search`` of the simulator: ``SearchFlowParams`` → ``SearchFlowContent``.

Criteria combine with AND, list values with OR (the document's description); unknown
criteria are ignored, but at least one known criterion is required. Results are
ordered by ``(updatedAt, flowId)``; ``nextCursor`` is an opaque bookmark of the last result
of a full page (base64url JSON of that pair), so a flow updated later moves behind the
bookmark and is found again by the next pass: nothing is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from services.transmit.pa_sim.flow import Flow, iso

DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 100
_LISTS: Final = ("processingRule", "flowType", "flowDirection")
KNOWN: Final = frozenset({"updatedAfter", "updatedBefore", "trackingId", "ackStatus", *_LISTS})


class SearchError(ValueError):
    """A malformed search (answered 400)."""


@dataclass(frozen=True)
class Query:
    where: dict[str, Any]
    limit: int
    after: tuple[str, str] | None
    updated_after: datetime | None
    updated_before: datetime | None


def _moment(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SearchError(f"where.{name} must be a date-time string")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise SearchError(f"where.{name} is not an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        raise SearchError(f"where.{name} needs a time zone")
    return moment


def encode_cursor(flow: Flow) -> str:
    raw = json.dumps([iso(flow.updated_at), flow.flow_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(value: Any) -> tuple[str, str]:
    if not isinstance(value, str):
        raise SearchError("cursor must be a string")
    try:
        pair = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise SearchError("unknown cursor") from exc
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
        raise SearchError("unknown cursor")
    return pair[0], pair[1]


def parse(body: Any) -> Query:
    """Validate a ``SearchFlowParams`` body; raises :class:`SearchError`."""
    if not isinstance(body, dict) or not isinstance(body.get("where"), dict):
        raise SearchError("a JSON object with a 'where' object is required")
    # Unknown criteria are ignored (the schema allows other properties), but at least one
    # known criterion is required (the operation's description): a misspelt one alone is
    # refused instead of answering with every flow.
    where: dict[str, Any] = {k: v for k, v in body["where"].items() if k in KNOWN}
    if not where:
        raise SearchError(f"at least one criterion among {sorted(KNOWN)} is required")
    for name in _LISTS:
        if name in where and not (isinstance(where[name], list)
                                  and all(isinstance(x, str) for x in where[name])):
            raise SearchError(f"where.{name} must be an array of strings")
    if "trackingId" in where and not isinstance(where["trackingId"], str):
        raise SearchError("where.trackingId must be a string")
    limit = body.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit > MAX_LIMIT:
        raise SearchError(f"limit must be an integer up to {MAX_LIMIT}")
    cursor = body.get("cursor")
    return Query(where=where, limit=max(1, limit),
                 after=None if cursor is None else _decode_cursor(cursor),
                 updated_after=_moment(where.get("updatedAfter"), "updatedAfter"),
                 updated_before=_moment(where.get("updatedBefore"), "updatedBefore"))


def _matches(flow: Flow, q: Query) -> bool:
    w = q.where
    return ((q.updated_after is None or flow.updated_at > q.updated_after)
            and (q.updated_before is None or flow.updated_at < q.updated_before)
            and ("trackingId" not in w or flow.tracking_id == w["trackingId"])
            and ("ackStatus" not in w or flow.ack_status == w["ackStatus"])
            and ("flowDirection" not in w or flow.direction in w["flowDirection"])
            and ("flowType" not in w or flow.flow_type in w["flowType"])
            and ("processingRule" not in w or flow.processing_rule in w["processingRule"]))


def run(flows: Iterable[Flow], q: Query) -> dict[str, Any]:
    """One page of results as ``SearchFlowContent``."""
    found = sorted((f for f in flows if _matches(f, q)),
                   key=lambda f: (iso(f.updated_at), f.flow_id))
    if q.after is not None:
        found = [f for f in found if (iso(f.updated_at), f.flow_id) > q.after]
    page = found[:q.limit]
    answer: dict[str, Any] = {"limit": q.limit, "filters": dict(q.where),
                              "results": [f.as_json() for f in page]}
    if len(found) > q.limit:
        answer["nextCursor"] = encode_cursor(page[-1])
    return answer
