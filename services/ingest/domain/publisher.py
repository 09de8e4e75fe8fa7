"""Who published a submission: the tenant that RabbitMQ vouches for (issue 10 property 1).

Pure. Two properties are authenticated by the broker: the routing key (an ERP user's topic
permission allows ``invoice.submit.<its SIRET>`` only) and ``user_id`` (it must be the
connection's user). The ``tenant`` header is a claim checked against them by
:func:`services.ingest.domain.submission.decode`. See docs/tenant-isolation.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from services.ingest.domain.reasons import Reason

# An ERP's RabbitMQ user is named after its tenant.
ERP_USER = re.compile(r"^erp-(\d{14})$")
# The per-tenant routing key: an ERP user's topic permission allows its own key only.
TENANT_KEY = re.compile(r"^invoice\.submit\.(\d{14})$")
PLAIN_KEY = "invoice.submit"


def forged(message: str) -> Reason:
    """A ``tenant-forged`` reason: the publisher may not submit for the tenant it claims."""
    return Reason(code="tenant-forged", path="headers.tenant", message=message)


def authenticated(
    routing_key: str | None, user: str | None, operators: Collection[str]
) -> tuple[str | None, list[Reason]]:
    """The tenant the broker vouches for (``None``: an operator, any tenant) and refusals
    (``tenant-forged``; ``unknown-tenant`` for a submission key that names no SIRET).

    The routing key ``invoice.submit.<SIRET>`` is checked by RabbitMQ's topic permissions, the
    ``user_id`` against the connection's user; plain ``invoice.submit`` is writable only by
    users with a topic permission for it (operators). See docs/tenant-isolation.md.
    """
    key = TENANT_KEY.match(routing_key or "")
    erp = ERP_USER.match(user or "")
    if user is not None and erp is None and user not in operators:
        return (key.group(1) if key else None), [forged(
            f"RabbitMQ user {user} is neither an operator nor the ERP user of a tenant.")]
    if key is not None:
        if erp is not None and erp.group(1) != key.group(1):
            return erp.group(1), [forged(
                f"RabbitMQ user {user} may only submit for tenant {erp.group(1)}, "
                f"not on the routing key {routing_key}.")]
        return key.group(1), []
    if routing_key not in (None, PLAIN_KEY):
        return None, [Reason(code="unknown-tenant", path="routing_key",
                             message="The routing key must be invoice.submit.<SIRET>.")]
    return (erp.group(1) if erp else None), []


# Headers only the broker writes (dead-lettering). A submission never carries them: RabbitMQ
# 3.x keeps a publisher's own x-death entry when it dead-letters a message whose entry names
# the same queue and reason, routing keys included, and `efacture dlq replay` takes the
# routing key (the authenticated tenant) from that entry. Forged, it would replay an ERP's
# message on another tenant's key.
BROKER_ONLY_HEADERS = frozenset({
    "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
    "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
})
BROKER_HEADER_PATH = "headers.x-death"


def broker_headers(headers: Collection[str]) -> list[Reason]:
    """``tenant-forged`` when the publisher set a header only the broker may set."""
    found = sorted(str(k) for k in headers if str(k).lower() in BROKER_ONLY_HEADERS)
    if not found:
        return []
    return [Reason(code="tenant-forged", path=BROKER_HEADER_PATH,
                   message=f"The headers {', '.join(found)} are set by RabbitMQ only.")]
