"""The Flow Service's values as transmit sees them: where a platform lives, a tenant's
credentials there, and what an upload or a flow's acknowledgement says."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.settings import Settings

_Frozen = ConfigDict(frozen=True, extra="forbid")


class PaEndpoint(BaseModel):
    """Where a tenant's platform lives; ``token_url`` defaults to ``{base_url}/oauth/token``."""

    model_config = _Frozen
    base_url: str
    token_url: str | None = None

    @property
    def oauth_url(self) -> str:
        return self.token_url or f"{self.base_url.rstrip('/')}/oauth/token"

    @classmethod
    def for_tenant(cls, settings: Settings, *, sandbox: bool) -> PaEndpoint:
        """Sandbox tenants always use the built-in simulator; others ``EFACTURE_PA_URL`` (and
        ``EFACTURE_PA_TOKEN_URL``) if set."""
        if sandbox or not settings.pa_url:
            return cls(base_url=settings.builtin_pa_url)
        return cls(base_url=settings.pa_url, token_url=settings.pa_token_url)


class PaCredentials(BaseModel):
    """One tenant's OAuth2 client credentials at its platform (the secret never prints)."""

    model_config = _Frozen
    endpoint: PaEndpoint
    client_id: str
    client_secret: SecretStr


class UploadResult(BaseModel):
    model_config = _Frozen
    flow_id: str
    tracking_id: str
    already_existed: bool


class FlowReason(BaseModel):
    """One ``acknowledgement.details[]`` entry: ``reasonCode``, ``reasonMessage``, ``item``."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    code: str
    message: str = ""
    item: str = ""
    level: str = "Error"


class FlowStatus(BaseModel):
    """``Ok`` means lifecycle 200 Déposée; ``Error`` means 213 Rejetée with ``reasons``."""

    model_config = _Frozen
    flow_id: str
    tracking_id: str
    ack_status: Literal["Pending", "Ok", "Error"]
    reasons: tuple[FlowReason, ...] = ()


def mime(filename: str) -> str:
    lowered = filename.lower()
    if lowered.endswith(".pdf"):
        return "application/pdf"
    if lowered.endswith(".xml"):
        return "application/xml"
    return "application/octet-stream"


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
