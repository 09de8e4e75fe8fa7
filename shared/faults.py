"""Test-only crash points: ``faults.reach("archive.after_blob")`` SIGKILLs this process when
``EFACTURE_FAULT_POINT`` names that point, so integration tests can crash a consumer at a
precise step (between a write and its commit, between a commit and its ack).

Unset (production), ``reach`` is one environment lookup and does nothing.
"""

from __future__ import annotations

import os
import signal


def reach(point: str) -> None:
    """Die at once (SIGKILL: no cleanup, no ack, no rollback message) if ``point`` is armed."""
    if os.environ.get("EFACTURE_FAULT_POINT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
