"""Property 8 (CLI hygiene): tables show what tenants typed literally, never as rich markup or
terminal control sequences; a PA client secret need not appear on the command line.

Driven through the real ``efacture`` executable against a database of the module's own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from efacture.cli.output import table
from services.transmit.adapters.credentials import open_secret
from shared.settings import Settings
from tests.support.infra import Infra
from tests.support.system import EFACTURE

pytestmark = pytest.mark.security

HOSTILE_NAME = "[red]x[/red] \x1b[2J\x1b]0;owned\x07 \u202eevil"


def _cli(env: dict[str, str], *args: str, stdin: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EFACTURE, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def env(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    made = infra.env(str(tmp_path_factory.mktemp("efacture-data")))
    made["COLUMNS"] = "200"  # one table row per tenant, whatever the terminal
    return made


def _assert_shown_literally(text: str) -> None:
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "[red]x[/red]" in text
    assert "\\x1b[2J" in text
    assert "\\x07" in text


def test_tenant_list_shows_markup_and_control_characters_literally(
    env: dict[str, str],
) -> None:
    added = _cli(env, "tenant", "add", "00000000000017", "--name", HOSTILE_NAME,
                 "--subscribed-on", "2026-01-01", "--sandbox")
    assert added.returncode == 0, added.stderr
    _assert_shown_literally(added.stdout)

    listed = _cli(env, "tenant", "list")
    assert listed.returncode == 0, listed.stderr
    _assert_shown_literally(listed.stdout)

    # --json keeps the exact value: it is data for programs, escaped by JSON itself.
    as_json = _cli(env, "tenant", "list", "--json")
    assert HOSTILE_NAME in [t["name"] for t in json.loads(as_json.stdout)]


def test_an_invoice_number_in_any_table_is_shown_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table("[bold]invoices", ["invoice_number", "recipient_name"],
          [["[link=https://evil.example]F-1[/link]", "\x1b[2J\x1b[1;1H\r\nfake row"]])
    out = capsys.readouterr().out
    assert "[bold]invoices" in out
    assert "[link=https://evil.example]F-1[/link]" in out
    assert "\x1b" not in out
    assert "\r" not in out
    assert "\\x1b[2J" in out
    assert "\\r\\nfake row" in out


def _stored_secret(infra: Infra, env: dict[str, str], siret: str) -> str:
    with psycopg.connect(infra.database_url) as conn:
        row = conn.execute("SELECT pa_secret_wrapped FROM core.tenant WHERE siret = %s",
                           (siret,)).fetchone()
    assert row is not None
    assert row[0] is not None
    settings = Settings(_env_file=None, data_dir=Path(env["EFACTURE_DATA_DIR"]))  # type: ignore[call-arg]
    return open_secret(siret, bytes(row[0]), settings)


@pytest.mark.parametrize("how", ["stdin", "file"])
def test_client_secret_is_read_from_stdin_or_a_file_not_argv(
    how: str, infra: Infra, env: dict[str, str], tmp_path: Path,
) -> None:
    siret = "00000000000025" if how == "stdin" else "00000000000033"
    assert _cli(env, "tenant", "add", siret, "--name", "Secretive", "--subscribed-on",
                "2026-01-01", "--sandbox").returncode == 0
    secret = f"s3cr3t-{how}-\u00e9t\u00e9"
    if how == "stdin":
        done = _cli(env, "tenant", "set-credentials", siret, "--client-id", "erp",
                    "--client-secret", "-", stdin=secret + "\n")
    else:
        path = tmp_path / "secret.txt"
        path.write_text(secret + "\n", encoding="utf-8")
        path.chmod(0o600)
        done = _cli(env, "tenant", "set-credentials", siret, "--client-id", "erp",
                    "--client-secret-file", str(path))
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    assert _stored_secret(infra, env, siret) == secret


def test_client_secret_needs_exactly_one_source(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("x\n", encoding="utf-8")
    both = _cli(env, "tenant", "set-credentials", "00000000000017", "--client-id", "erp",
                "--client-secret", "y", "--client-secret-file", str(path))
    assert both.returncode == 2
    neither = _cli(env, "tenant", "set-credentials", "00000000000017", "--client-id", "erp")
    assert neither.returncode == 2
    empty = _cli(env, "tenant", "set-credentials", "00000000000017", "--client-id", "erp",
                 "--client-secret", "-", stdin="\n")
    assert empty.returncode == 2
