"""The CLI of contract section 4: every command takes --json; usage errors exit 2."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from efacture.cli.main import cli

pytestmark = pytest.mark.unit


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_every_command_takes_json():
    missing = [
        " ".join(path)
        for path, cmd in _commands(cli)
        if not any("--json" in p.opts for p in cmd.params)
    ]
    assert missing == []


@pytest.mark.parametrize(
    "path",
    [
        ("up",),
        ("serve",),
        ("topology", "apply"),
        ("tenant", "add"),
        ("tenant", "list"),
        ("tenant", "stop"),
        ("tenant", "set-credentials"),
        ("submit",),
        ("status",),
        ("invoice", "list"),
        ("invoice", "get"),
        ("proof",),
        ("verify",),
        ("dlq", "list"),
        ("dlq", "show"),
        ("dlq", "replay"),
        ("dlq", "drop"),
        ("usage",),
        ("purge",),
        ("export",),
    ],
)
def test_contract_commands_exist(path):
    node: click.Command = cli
    for part in path:
        assert isinstance(node, click.Group), path
        node = node.commands[part]


def test_unknown_option_is_a_usage_error_exit_2():
    result = CliRunner().invoke(cli, ["tenant", "list", "--no-such-option"])
    assert result.exit_code == 2


def test_tenant_add_refuses_a_siret_failing_luhn_unless_sandbox():
    result = CliRunner().invoke(
        cli, ["tenant", "add", "12345678901234", "--name", "X", "--subscribed-on", "2026-01-01"]
    )
    assert result.exit_code == 1
    assert "Luhn" in result.output
