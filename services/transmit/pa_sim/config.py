"""Fault-injection and behaviour knobs of the built-in PA simulator.

Set at start (``SimConfig(...)``, or the environment through :func:`config_from_env`) and
changed at run time with ``POST /_sim/config`` (a partial JSON object merged into the
current configuration). Every knob is documented on its field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENV_PREFIX = "EFACTURE_PA_SIM_"
MAX_LATENCY_MS = 10_000  # a control request can never make the simulator hang for long


class SimConfig(BaseModel):
    """The simulator's behaviour. Frozen: a change builds a new one (:meth:`merged`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_rate: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="share of /v1/* requests answered with failure_status instead of served",
    )
    failure_scope: Literal["all", "uploads"] = Field(
        default="all", description="which /v1/* requests failure_rate applies to"
    )
    failure_status: int = Field(
        default=503, ge=400, le=599, description="status of injected failures"
    )
    retry_after: int = Field(
        default=1, ge=0, description="Retry-After seconds sent with an injected 429"
    )
    latency_ms: int = Field(
        default=0, ge=0, le=MAX_LATENCY_MS,
        description="added (non-blocking) delay on /v1/* and the token, bounded",
    )
    lost_answer_rate: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="share of accepted uploads whose answer is lost (connection dropped)",
    )
    ack_error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="share of accepted flows acknowledged Error",
    )
    ack_delay_s: float = Field(default=0.2, ge=0.0, description="time a new flow stays Pending")
    down: bool = Field(default=False, description="every /v1/* and token request fails")
    down_mode: Literal["503", "close"] = Field(
        default="503", description="how a down platform fails: answer 503, or drop the connection"
    )
    lifecycle_codes: tuple[int, ...] = Field(
        default=(), description="lifecycle codes emitted as inbound CDAR flows after an Ok"
    )
    lifecycle_interval_s: float = Field(
        default=0.05, ge=0.0, description="spacing between successive lifecycle flows"
    )
    expires_in: int = Field(
        default=3600, ge=1, description="lifetime of issued access tokens, seconds"
    )
    max_file_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="larger files are answered 413"
    )
    seed: int | None = Field(
        default=None, description="seed of the fault-injection dice (reproducible runs)"
    )

    @field_validator("lifecycle_codes", mode="before")
    @classmethod
    def _split_codes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        if isinstance(value, int):
            return (value,)
        return value

    def merged(self, changes: Mapping[str, Any]) -> SimConfig:
        """A new configuration with ``changes`` applied, validated (raises ``ValidationError``)."""
        return SimConfig.model_validate({**self.model_dump(), **changes})


def config_from_env(environ: Mapping[str, str] | None = None) -> SimConfig:
    """Read ``EFACTURE_PA_SIM_<FIELD>`` variables (e.g. ``EFACTURE_PA_SIM_FAILURE_RATE=0.2``,
    ``EFACTURE_PA_SIM_LIFECYCLE_CODES=202,205``); unset fields keep their defaults."""
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in SimConfig.model_fields:
        raw = source.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name == "down":
            values[name] = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif name == "seed" and not raw.strip():
            values[name] = None
        else:
            values[name] = raw
    return SimConfig.model_validate(values)
