"""One settings object for every service and command (prefix ``EFACTURE_``, ``.env`` read)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of contract section 1, plus internal knobs with safe defaults."""

    model_config = SettingsConfigDict(
        env_prefix="EFACTURE_", env_file=".env", extra="ignore", frozen=True
    )

    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    database_url: str = "postgresql://postgres@localhost:5432/efacture"
    # Least privilege: each service connects as its own role efacture_<service> (created and
    # granted by the migration); the user of database_url owns the schema. A per-service URL
    # (with that role's password) overrides the one derived from database_url; false -> every
    # service uses database_url as before.
    database_roles: bool = True
    ingest_database_url: str | None = None
    archive_database_url: str | None = None
    transmit_database_url: str | None = None
    metering_database_url: str | None = None
    portal_database_url: str | None = None
    data_dir: Path = Path("./var")
    pa_url: str | None = None
    pa_token_url: str | None = None  # OAuth2 token URL of the PA (default {pa_url}/oauth/token)
    pa_webhook_url: str | None = None  # public URL of transmit's webhook receiver
    pa_webhook_port: int = 8472  # where that receiver listens (on bind_host)
    tsa_url: str | None = None
    transmit_retry_delays: Annotated[tuple[int, ...], NoDecode] = (10, 60, 300, 1800, 7200)
    retention_years: int = 10
    max_document_bytes: int = 10 * 1024 * 1024
    # RabbitMQ users that may submit for any tenant (comma-separated); ingest adds its own user.
    operator_users: Annotated[tuple[str, ...], NoDecode] = ("guest",)
    # Ingest's analysis: persistent worker processes, each document cut off after the limit.
    analysis_workers: int = 2
    analysis_timeout_seconds: float = 10.0
    analysis_function: str = "services.ingest.domain.analysis:analyse"  # tests inject a slow one
    smtp_url: str | None = None  # smtp://[user:password@]host:port (STARTTLS when offered) or smtps://
    mail_from: str = "efacture@localhost"
    portal_url: str = "https://localhost:8443"  # public base URL of the portal (e-mail links)
    tls_cert: Path | None = None  # portal certificate chain (PEM); unset -> self-signed in data_dir
    tls_key: Path | None = None  # its private key (PEM)
    # Encrypted documents: unset → data_dir/blobs; file:///path or s3://bucket/prefix.
    blob_url: str | None = None
    s3_endpoint: str | None = None  # e.g. http://127.0.0.1:8333 (SeaweedFS); unset → AWS
    # Standard AWS names (no EFACTURE_ prefix), also read from .env.
    aws_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY")
    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices(
        "AWS_REGION", "AWS_DEFAULT_REGION"))

    # Internal knobs (not part of the external contract).
    master_key: str | None = Field(default=None, description="base64 32-byte master key")
    master_key_file: Path | None = None  # a file holding that base64 (e.g. a docker secret)
    # Archive's Ed25519 log signing key: PEM (or base64 of it) inline, or a file (e.g. a docker
    # secret). Neither -> <data_dir>/keys/log.key, created on first use.
    log_signing_key: SecretStr | None = None
    log_signing_key_file: Path | None = None
    tsa_key_dir: Path | None = None  # built-in TSA's keys and certificates; unset -> data_dir/tsa
    pa_sim_port: int = 8470
    pa_sim_url: str | None = None  # where the built-in simulator is reached (containers)
    bind_host: str = "127.0.0.1"  # where the built-in PA simulator, TSA and metrics listen
    tsa_chain_file: Path | None = None  # PEM chain of an external TSA, for proof bundles
    tsa_ca: Path | None = None  # PEM root certificate of an external TSA: archive's trust anchor
    tsa_port: int = 8471
    metrics_port_base: int = 9470
    # Several processes of a service (efacture/replicas.py): `efacture up` runs COUNT of each
    # named service ("ingest=2,archive=2"); each child gets its index in EFACTURE_REPLICA.
    replicas: str = ""
    replica: int = 0  # this process's index among its service's processes (its port offset)
    metrics_port: int | None = None  # this process's health/metrics port; 0 → the OS picks one
    prefetch: int = 32
    db_pool_size: int = 12  # connections per service process
    delivery_limit: int = 20
    # How long a publish the broker nacks is retried in the publisher before the handler's
    # own retry (requeue, which counts towards delivery_limit) takes over (shared/nacked.py).
    publish_nack_patience_s: float = Field(default=300.0, ge=0)
    # Replicas of each quorum queue (x-quorum-initial-group-size; RabbitMQ caps it at the node
    # count). Fixed per deployment: a queue refuses redeclaration with another value; 0 = unset.
    quorum_size: int = 3
    purge_max_share: float = 0.5
    tariff_file: Path | None = None
    checkpoint_interval_seconds: float = 2.0
    breaker_cooldown_seconds: float = 30.0  # how long an open PA circuit waits before a probe
    notify_lease_seconds: float = 300.0  # a claimed portal e-mail is sent again after this
    log_level: str = "INFO"

    @field_validator("transmit_retry_delays", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("operator_users", mode="before")
    @classmethod
    def _split_users(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def builtin_pa_url(self) -> str:
        return self.pa_sim_url or f"http://127.0.0.1:{self.pa_sim_port}"

    @property
    def builtin_tsa_url(self) -> str:
        return f"http://127.0.0.1:{self.tsa_port}/tsa"

    @property
    def effective_tsa_url(self) -> str:
        return self.tsa_url or self.builtin_tsa_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once (environment and ``.env``)."""
    return Settings()
