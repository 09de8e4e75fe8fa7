"""The one back-off of the project's in-process waits: 0.2 s, doubling, at most 5 s."""

from __future__ import annotations

FIRST_S = 0.2
MAX_S = 5.0


def pause(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1`` (``attempt`` failures so far, from 0)."""
    return min(FIRST_S * (2 ** min(max(attempt, 0), 5)), MAX_S)
