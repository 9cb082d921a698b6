"""Bounded reading of untrusted files: regular files only, size capped before reading.

Every reader of the product (experiment files, CSV data, weights, run folders) opens files
through :func:`read_capped`, so none of them can hang on a FIFO, stream ``/dev/zero`` until
memory runs out, or read a gigabyte it will refuse anyway. The engine owns this primitive
because ``engine.data`` reads CSV files and the engine never imports ``workbench``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

MAX_PROBLEMS = 50  # problems listed before "and N more"

_CHUNK = 1 << 20


Refusal = Literal["missing", "special", "too_big", "unreadable"]


class FileRefused(ValueError):
    """A file that cannot be read as asked; the message names the file and the reason.

    ``kind`` says why (for callers that word some cases their own way) and ``reason`` is
    the message without the file's name.
    """

    def __init__(self, path: Path, kind: Refusal, reason: str, what: str = "file", size: int = 0) -> None:
        super().__init__(f"{what} {path} {reason}")
        self.path = path
        self.kind = kind
        self.reason = reason
        self.size = size  # bytes seen, when the file was too big


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Path, max_bytes: int, what: str = "file") -> int:
    """A blocking descriptor on the regular file ``path`` of at most ``max_bytes``, else FileRefused.

    Opened non-blocking first (a FIFO opens at once instead of waiting for a writer) and checked
    with ``fstat`` on the open descriptor, so the file checked is the file read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused(path, "missing", "does not exist", what) from None
    except OSError as exc:
        raise FileRefused(path, "unreadable", f"cannot be opened: {_why(exc)}", what) from None
    try:
        check_stat(path, os.fstat(fd), max_bytes, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_capped(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refused if it holds more than ``max_bytes``.

    The file is opened non-blocking (a FIFO opens at once instead of waiting for a writer)
    and checked with ``fstat`` on the open descriptor, so the file checked is the file read.
    The read stops one byte past the cap, whatever the file claims its size is.
    """
    path = Path(path)
    fd = open_regular(path, max_bytes, what)
    try:
        chunks: list[bytes] = []
        total = 0
        # The size fstat reports (plus one, to see growth) in one read: joining one chunk is no
        # copy, where joining 1 MB chunks briefly held the file twice. Then chunks, to the cap.
        step = max(_CHUNK, os.fstat(fd).st_size + 1)
        while total <= max_bytes:
            chunk = os.read(fd, min(step, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            step = _CHUNK
    except OSError as exc:
        raise FileRefused(path, "unreadable", f"cannot be read: {_why(exc)}", what) from None
    finally:
        os.close(fd)
    if total > max_bytes:  # the file grew while being read
        raise FileRefused(path, "too_big", f"is over {_size(max_bytes)}, the limit", what, total)
    return b"".join(chunks)


def check_regular(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> int:
    """The size of the regular file ``path`` (refused like :func:`read_capped`), without reading it."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileRefused(path, "missing", "does not exist", what) from None
    except OSError as exc:
        raise FileRefused(path, "unreadable", f"cannot be opened: {_why(exc)}", what) from None
    check_stat(path, info, max_bytes, what)
    return int(info.st_size)


def check_stat(path: Path, info: os.stat_result, max_bytes: int, what: str = "file") -> None:
    """Refuse what ``os.stat``/``os.fstat`` says is not a regular file of at most ``max_bytes``."""
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(path, "special", f"is {_kind(info.st_mode)}, not a regular file", what)
    if info.st_size > max_bytes:
        reason = f"is {_size(info.st_size)}; the limit is {_size(max_bytes)}"
        raise FileRefused(path, "too_big", reason, what, info.st_size)


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings, for ``csv.reader``, without a copy of the text.

    ``io.StringIO(text)`` would hold the text again, four bytes a character for most text.
    Lines end at '\\n' only (a '\\r\\n' stays whole for the csv module, and unicode separators
    such as U+2028 stay inside fields); a file using lone '\\r' is read as such.
    """
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def capped_lines(lines: list[str], total: int | None = None, limit: int = MAX_PROBLEMS) -> list[str]:
    """The first ``limit`` lines, then one line saying how many more were left out."""
    total = len(lines) if total is None else total
    head = list(lines[:limit])
    if total > len(head):
        head.append(f"and {total - len(head)} more")
    return head


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} kB"
    return f"{n} bytes"
