"""A ZIP writer whose memory does not grow with the number of entries.

:class:`zipfile.ZipFile` keeps one ``ZipInfo`` per entry until it writes the central
directory (≈ 500 bytes each: 350 MB for an export of 100,000 invoices of seven files).
:class:`ZipStream` writes each central-directory record to a temporary file as soon as the
entry is written and copies it after the last entry. ZIP64 end records are written when the
archive needs them (more than 65,535 entries, or offsets past 4 GiB); a single entry must stay
below 4 GiB. The output is read by any unzip, Python's ``zipfile`` included.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_U32 = 0xFFFFFFFF
_U16 = 0xFFFF
_UTF8_FLAG = 0x0800
_DEFLATED = 8
_CHUNK = 1 << 20


def _dos_time(moment: float) -> tuple[int, int]:
    t = time.gmtime(moment)
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((max(t.tm_year, 1980) - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)


class ZipStream:
    """Append-only ZIP file at ``path``; entries are deflated; close (or exit) to finish."""

    def __init__(self, path: Path) -> None:
        # A fresh file, 0600 whatever the umask, never through a symlink: it holds decrypted
        # documents (the caller renames it over the target once complete).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        os.fchmod(fd, 0o600)
        self._out: BinaryIO = os.fdopen(fd, "wb")
        self._central: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115
        self._entries = 0
        self.size = 0  # bytes written, final once closed
        self._time, self._date = _dos_time(time.time())

    def __enter__(self) -> ZipStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._out.close()
            self._central.close()

    def _header(self, name: bytes, crc: int, csize: int, usize: int) -> bytes:
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, _UTF8_FLAG, _DEFLATED, self._time,
                           self._date, crc, csize, usize, len(name), 0) + name

    def _record(self, name: bytes, offset: int, crc: int, csize: int, usize: int) -> None:
        extra = b""
        if offset >= _U32:
            extra = struct.pack("<HHQ", 0x0001, 8, offset)
        self._central.write(struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 45, 45 if extra else 20, _UTF8_FLAG,
            _DEFLATED, self._time, self._date, crc, csize, usize, len(name), len(extra), 0, 0, 0,
            0o100644 << 16, min(offset, _U32)) + name + extra)
        self._entries += 1

    def write(self, name: str, data: bytes) -> None:
        """Add one entry holding ``data`` (below 4 GiB)."""
        raw = name.encode("utf-8")
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        compressed = packer.compress(data) + packer.flush()
        crc = zlib.crc32(data)
        offset = self._out.tell()
        self._out.write(self._header(raw, crc, len(compressed), len(data)))
        self._out.write(compressed)
        self._record(raw, offset, crc, len(compressed), len(data))

    def write_file(self, name: str, source: BinaryIO) -> None:
        """Add one entry streamed from ``source`` (a file object; below 4 GiB)."""
        raw = name.encode("utf-8")
        offset = self._out.tell()
        self._out.write(self._header(raw, 0, 0, 0))
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        crc = usize = csize = 0
        while chunk := source.read(_CHUNK):
            crc, usize = zlib.crc32(chunk, crc), usize + len(chunk)
            out = packer.compress(chunk)
            csize += len(out)
            self._out.write(out)
        tail = packer.flush()
        csize += len(tail)
        self._out.write(tail)
        end = self._out.tell()
        self._out.seek(offset)  # patch the sizes in: the output is a seekable file
        self._out.write(self._header(raw, crc, csize, usize))
        self._out.seek(end)
        self._record(raw, offset, crc, csize, usize)

    def close(self) -> None:
        """Write the central directory and the end records, then close the file."""
        start = self._out.tell()
        self._central.seek(0)
        shutil.copyfileobj(self._central, self._out, _CHUNK)
        size = self._out.tell() - start
        self._central.close()
        n = self._entries
        if n >= _U16 or start >= _U32 or size >= _U32:
            zip64_at = self._out.tell()
            self._out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, (3 << 8) | 45, 45, 0, 0,
                                        n, n, size, start))
            self._out.write(struct.pack("<IIQI", 0x07064B50, 0, zip64_at, 1))
        self._out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, _U16), min(n, _U16),
                                    min(size, _U32), min(start, _U32), 0))
        self.size = self._out.tell()
        self._out.close()
