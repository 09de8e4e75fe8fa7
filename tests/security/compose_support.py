"""What the compose key tests share: docker-compose.yml read as compose would, the script that
makes its secrets, and each service's key settings resolved to the files that script wrote.

No Docker engine runs here. ``root`` stands for the repository a deployment runs from: the
script writes ``root/.env`` and ``root/var/compose/``; a container path named in a service's
``secrets:``, ``configs:`` or bind mounts maps onto the file compose would mount there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "compose-secrets"
VAR_COMPOSE = "./var/compose/"
# The settings that name key material or the TSA's certificates (paths in the container).
KEY_SETTINGS = ("EFACTURE_MASTER_KEY_FILE", "EFACTURE_LOG_SIGNING_KEY_FILE", "EFACTURE_TSA_CA",
                "EFACTURE_TSA_CHAIN_FILE", "EFACTURE_TSA_KEY_DIR")


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def run_script(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """scripts/compose-secrets with ``root`` standing for the repository (.env, var/compose)."""
    return subprocess.run(
        [str(SCRIPT), str(root / ".env"), str(root / "var/compose/rabbitmq-definitions.json")],
        env={**os.environ, "PYTHON": sys.executable, **env}, capture_output=True, text=True,
        timeout=120, check=False)


def host_path(source: str, root: Path) -> Path:
    """Where a ``./var/compose/...`` source of the compose file lies under ``root``."""
    assert source.startswith(VAR_COMPOSE), f"{source} is not a generated file"
    return root / source.removeprefix("./")


def mounts(compose: dict[str, Any], name: str, root: Path) -> dict[str, Path]:
    """Container path → host file or directory, for one service, as compose mounts them."""
    svc = compose["services"][name]
    found: dict[str, Path] = {}
    for kind, default_dir in (("secrets", "/run/secrets/"), ("configs", "/")):
        for entry in svc.get(kind) or []:
            source = entry if isinstance(entry, str) else entry["source"]
            target = source if isinstance(entry, str) else entry.get("target", source)
            path = target if target.startswith("/") else default_dir + target
            found[path] = host_path(compose[kind][source]["file"], root)
    for volume in svc.get("volumes") or []:
        if isinstance(volume, dict) and volume["type"] == "bind":
            found[volume["target"]] = host_path(volume["source"], root)
    return found


def key_env(compose: dict[str, Any], name: str, root: Path) -> dict[str, str]:
    """The service's key settings exactly as compose sets them, their paths made host paths.

    Fails when a setting names a path the service does not mount (the container would not
    find it either)."""
    mounted = mounts(compose, name, root)
    env = {}
    for key, value in (compose["services"][name].get("environment") or {}).items():
        if key in KEY_SETTINGS:
            assert str(value) in mounted, f"{name}: {key}={value} is not mounted"
            env[key] = str(mounted[str(value)])
    return env
