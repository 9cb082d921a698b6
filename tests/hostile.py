"""Builders of hostile files shared by the hostile-file tests, the fuzz tests and the benchmark."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def zip_bomb(path: Path, megabytes: int, name: str = "dense1.W.npy") -> Path:
    """A small .npz whose one member honestly declares ``megabytes`` of zeros once inflated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open(name, "w", force_zip64=True) as f:
        f.write(npy_header((megabytes * 2**17,)))
        chunk = bytes(2**20)
        for _ in range(megabytes):
            f.write(chunk)
    return path


def lying_zip_bomb(path: Path, megabytes: int = 64) -> Path:
    """A member whose headers claim 128 bytes but whose stream inflates to ``megabytes``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.npy", npy_header((16,)) + bytes(megabytes * 2**20))
    data = bytearray(path.read_bytes())
    # Rewrite the 'uncompressed size' of the local header and of the central directory.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = data.find(signature)
        struct.pack_into("<I", data, i + offset, 128)
    path.write_bytes(bytes(data))
    return path


def huge_header_npz(path: Path) -> Path:
    """A member whose header claims a 4 TB array."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dense1.W.npy", npy_header((2**39,)) + bytes(64))
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def sparse_file(path: Path, size: int) -> Path:
    """A file that claims ``size`` bytes without using the disk for them."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


def many_entries_npz(path: Path, entries: int) -> Path:
    """An archive of ``entries`` empty members: small on disk, a huge central directory."""
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(entries):
            archive.writestr(f"{i}.npy", b"")
    return path
