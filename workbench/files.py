"""The bounded reading layer every reader of the product goes through (Qt-free).

- :func:`read_capped` (from ``engine.safe_io``): a regular file's bytes, size capped before
  reading; FIFOs, devices and folders are refused without blocking.
- :func:`read_json_object`: a capped JSON file that must hold one object.
- :func:`read_npz`: the arrays of an ``.npz`` archive with every size checked before it is
  allocated: the archive's size, the number of members, each member's declared size, the
  bytes actually inflated, the total across members, and each ``.npy`` header's shape.
  Pickled (object) arrays are refused; nothing is ever unpickled.

Each failure is a :class:`FileRefused` (a ``ValueError``) whose message names the file;
format readers turn it into their own error type (``ExperimentError``, ``DataError``,
``WeightsError``, ``RunError``), which the CLI maps to exit 2 and the app to a dialog.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.format as npy_format

from engine.safe_io import (
    MAX_PROBLEMS,
    FileRefused,
    capped_lines,
    check_regular,
    check_stat,
    iter_lines,
    open_regular,
    read_capped,
)

__all__ = [
    "MAX_PROBLEMS",
    "FileRefused",
    "capped_lines",
    "check_regular",
    "check_stat",
    "iter_lines",
    "read_capped",
    "read_json_object",
    "read_npz",
]

_NPY_MAGIC_LEN = 8  # b'\x93NUMPY' + major + minor
_ARRAY_KINDS = "biufU"  # booleans, integers, floats and (for metadata) unicode; never objects
_EOCD_SIZE = 22  # the zip end-of-central-directory record, without its comment
_ZIP64_LOCATOR_SIZE = 20
_MAX_ENTRY_BYTES = 1024  # central-directory bytes per entry: 46 fixed, the rest name and extras


def read_json_object(path: str | os.PathLike[str], max_bytes: int, what: str) -> dict[str, Any]:
    """A JSON file holding one object, at most ``max_bytes``; NaN/Infinity literals refused."""
    path = Path(path)
    raw = read_capped(path, max_bytes, what)
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise FileRefused(path, "unreadable", f"is not UTF-8 text (byte {exc.start})", what) from None
    except RecursionError:
        raise FileRefused(path, "unreadable", "is nested too deeply", what) from None
    except ValueError as exc:  # json.JSONDecodeError, or a NaN literal
        raise FileRefused(path, "unreadable", f"is not valid JSON ({exc})", what) from None
    if not isinstance(data, dict):
        raise FileRefused(path, "unreadable", f"holds {type(data).__name__}, not a JSON object", what)
    return data


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not allowed")


def read_npz(
    path: str | os.PathLike[str],
    *,
    max_file_bytes: int,
    max_total_bytes: int,
    max_members: int,
    what: str = "archive",
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, refused (``FileRefused``) past any cap.

    Peak memory is about the arrays themselves: each member is inflated straight into its
    array's buffer, after its header's shape was checked against what is left of the total.
    """
    path = Path(path)
    fd = open_regular(path, max_file_bytes, what)
    try:
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        try:
            return _read_members(f, path, max_total_bytes, max_members, what)
        except FileRefused:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError) as exc:
            # A broken or truncated archive: zipfile and numpy say why in their own words.
            raise FileRefused(path, "unreadable", f"is not a readable .npz archive ({_short(exc)})",
                              what) from None


def _central_directory(f: Any, path: Path, what: str) -> tuple[int, int]:
    """(entries, bytes) of the archive's central directory, from its end record alone.

    ``zipfile`` parses the whole central directory into objects before anyone can count
    them: a 200 MB archive of empty entries would be millions of them. This reads the
    end record (and its zip64 form) first, so the count is refused before that happens.
    """
    f.seek(0, os.SEEK_END)
    size = f.tell()
    tail_start = max(0, size - (_EOCD_SIZE + 0xFFFF))
    f.seek(tail_start)
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD_SIZE > len(tail):
        raise FileRefused(path, "unreadable", "is not a readable .npz archive (no zip end record)", what)
    entries, cd_bytes = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or cd_bytes == 0xFFFFFFFF:  # zip64: the true counts are in another record
        loc = at - _ZIP64_LOCATOR_SIZE
        if loc < 0 or tail[loc:loc + 4] != b"PK\x06\x07":
            raise FileRefused(path, "unreadable", "is not a readable .npz archive (bad zip64 record)", what)
        (record_at,) = struct.unpack_from("<Q", tail, loc + 8)
        f.seek(record_at)
        record = f.read(56)
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            raise FileRefused(path, "unreadable", "is not a readable .npz archive (bad zip64 record)", what)
        entries, cd_bytes = struct.unpack_from("<QQ", record, 32)
    f.seek(0)
    return int(entries), int(cd_bytes)


def _read_members(f: Any, path: Path, max_total: int, max_members: int, what: str) -> dict[str, np.ndarray]:
    entries, cd_bytes = _central_directory(f, path, what)
    if entries > max_members or cd_bytes > max_members * _MAX_ENTRY_BYTES:
        raise FileRefused(path, "too_big", f"holds {entries:,} entries in {cd_bytes:,} bytes of directory; "
                                           f"at most {max_members:,} entries are allowed", what)
    with zipfile.ZipFile(f) as archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise FileRefused(path, "too_big", f"holds {len(members):,} entries; at most {max_members:,} "
                                               "are allowed", what)
        declared = sum(m.file_size for m in members)
        if declared > max_total:
            raise FileRefused(path, "too_big", f"would inflate to {declared / 2**20:,.1f} MB; the limit is "
                                               f"{max_total / 2**20:,.0f} MB", what)
        arrays: dict[str, np.ndarray] = {}
        for member in members:
            name = member.filename
            if not name.endswith(".npy"):
                raise FileRefused(path, "unreadable", f"holds {name[:80]!r}, which is not a .npy array",
                                  what)
            key = name[: -len(".npy")]
            if key in arrays:
                raise FileRefused(path, "unreadable", f"holds {key[:80]!r} twice", what)
            arrays[key] = _read_member(archive, member, path, what)
        return arrays


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path, what: str) -> np.ndarray:
    key = member.filename[: -len(".npy")][:80]
    with archive.open(member) as fp:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise FileRefused(path, "unreadable", f"{key!r} uses .npy format {version}, which is not read",
                              what)
        if any(int(d) < 0 for d in shape):
            raise FileRefused(path, "unreadable", f"{key!r} declares the shape {tuple(shape)}", what)
        plain = not dtype.hasobject and dtype.kind in _ARRAY_KINDS and dtype.fields is None
        if not (plain and dtype.itemsize):
            raise FileRefused(path, "unreadable", f"{key!r} holds {dtype} values; only plain numbers are "
                                                  "read (objects are never unpickled)", what)
        # Python integers: a header claiming 4 TB is a number here, never an allocation.
        nbytes = math.prod(int(d) for d in shape) * dtype.itemsize
        header_bytes = _header_length(fp)
        available = member.file_size - header_bytes
        if nbytes != available:
            raise FileRefused(path, "unreadable", f"{key!r} declares shape {tuple(shape)} of {dtype} "
                                                  f"({nbytes:,} bytes) but holds {max(available, 0):,}", what)
        buffer = bytearray(nbytes)
        view = memoryview(buffer)
        filled = 0
        while filled < nbytes:  # inflate straight into the array's memory, never past its size
            n = fp.readinto(view[filled:])
            if not n:
                raise FileRefused(path, "unreadable", f"{key!r} ends after {filled:,} of {nbytes:,} bytes",
                                  what)
            filled += n
        if fp.read(1):
            raise FileRefused(path, "unreadable", f"{key!r} holds more bytes than it declares", what)
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def _header_length(fp: Any) -> int:
    """Bytes of magic and header already consumed from a member (its data starts there)."""
    return int(fp.tell())


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
