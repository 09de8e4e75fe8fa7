"""Writing decrypted or exported files safely: mode 0600 from the start, no symlink followed.

A file is written to a fresh temporary name in the target's directory, opened with
``O_CREAT | O_EXCL | O_NOFOLLOW`` (it cannot already exist, so nobody else's file or link is
opened) and mode 0600 whatever the umask, fsync'd, then renamed over the target. A rename
replaces a symbolic link at the target itself: the link is never followed, and what it points
to is left untouched. A failure leaves the target as it was and removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600
PUBLIC = 0o644


@contextlib.contextmanager
def open_private(path: Path | str, mode: int = PRIVATE) -> Iterator[BinaryIO]:
    """A binary file to write; it becomes ``path`` when the block ends without an error."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed (or a caller widened) the mode
        with os.fdopen(fd, "wb", closefd=True) as fh:
            fd = -1
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def write_private(path: Path | str, data: bytes, mode: int = PRIVATE) -> None:
    """Write ``data`` to ``path`` as described in the module docstring."""
    with open_private(path, mode) as fh:
        fh.write(data)


def fsync_dir(directory: Path | str) -> None:
    """Make a rename or unlink in ``directory`` durable (the entry, not only the data)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
