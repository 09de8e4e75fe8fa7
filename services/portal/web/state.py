"""What every request handler reaches: settings, pool, clock, vault, mailer, templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg_pool import AsyncConnectionPool

from services.portal.clock import Clock, system_clock
from shared.settings import Settings

if TYPE_CHECKING:
    from services.portal.adapters.mailer import Mailer
    from services.portal.auth.secret_box import SecretBox
    from shared.vault.reader import Vault

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
STATIC = Path(__file__).resolve().parents[1] / "static"


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        default=True, default_for_string=True), trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["day"] = _day
    env.filters["when"] = _when
    return env


def _money(value: Any) -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}".replace(",", "\u202f").replace(".", ",")
    return text


def _day(value: Any) -> str:
    return value.strftime("%d/%m/%Y") if value is not None else "—"


def _when(value: Any) -> str:
    if value is None:
        return "—"
    from zoneinfo import ZoneInfo

    return str(value.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M"))


@dataclass
class Portal:
    settings: Settings
    pool: Callable[[], AsyncConnectionPool]
    clock: Clock = system_clock
    mailer: Mailer | None = None
    throttle_limit: int = 100
    templates: Environment = field(default_factory=environment)
    _vault: Vault | None = None
    _box: SecretBox | None = None

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            from shared.vault.reader import Vault

            self._vault = Vault(self.settings)
        return self._vault

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            from services.portal.auth.secret_box import SecretBox
            from shared.vault.master_source import MasterKeySource

            self._box = SecretBox(MasterKeySource(self.settings))
        return self._box

    def mail(self) -> Mailer:
        if self.mailer is None:
            from services.portal.adapters.mailer import Mailer

            self.mailer = Mailer(self.settings)
        return self.mailer
