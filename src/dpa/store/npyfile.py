"""The one ``.npy`` layout dpa writes, byte for byte, and plain-syscall I/O on it (no memory maps).

A dpa output file is a NumPy ``.npy`` version 1.0 file holding a 1-D,
C-ordered, little-endian array: the canonical header below (what
``numpy.lib.format`` writes for the same array, 128 bytes for any length)
followed by exactly ``n * itemsize`` bytes of data. Anything else, trailing
bytes included, is not a dpa file.

Reading and writing go through ``os.pread``/``os.pwrite`` on a file
descriptor: a full disk is then an ``OSError`` (ENOSPC) the caller can
report, never a SIGBUS from a sparse memory map.

>>> header = npy_header("<f8", 5)
>>> len(header), header[:6]
(128, b'\\x93NUMPY')
"""

from __future__ import annotations

import errno
import io
import os
from typing import Any

import numpy as np

__all__ = [
    "DESCR",
    "npy_header",
    "file_size",
    "describe_header",
    "pwrite_all",
    "pread_exact",
    "preallocate",
    "first_difference",
]

# metadata dtype name -> the .npy descr dpa writes (little-endian whatever the machine).
DESCR = {"float64": "<f8", "int64": "<i8", "bool": "|b1"}
_MAGIC = b"\x93NUMPY\x01\x00"
_ALIGN = 64
_GROWTH_DIGITS = 21  # numpy leaves room for the length to grow to 21 digits


def npy_header(descr: str, n: int) -> bytes:
    """The exact header of a dpa ``.npy`` file of ``n`` elements of ``descr``.

    Args:
        descr: one of ``DESCR``'s values (``"<f8"``, ``"<i8"``, ``"|b1"``).
        n: number of elements, in ``[0, 2**64)``.

    Returns:
        The magic string, version 1.0, the little-endian header length and
        the header dict, padded with spaces and a newline to a multiple of 64
        bytes: the same bytes ``numpy.lib.format.write_array_header_1_0``
        writes (numpy >= 1.24; pinned here so that outputs do not change with
        numpy versions).
    """
    text = "{'descr': %r, 'fortran_order': False, 'shape': (%d,), }" % (descr, n)
    text += " " * (_GROWTH_DIGITS - len(repr(n)))
    hlen = len(text) + 1  # the newline
    pad = _ALIGN - ((len(_MAGIC) + 2 + hlen) % _ALIGN)
    text += " " * pad + "\n"
    return _MAGIC + len(text).to_bytes(2, "little") + text.encode("latin1")


def file_size(descr: str, n: int) -> int:
    """Size in bytes of a dpa ``.npy`` file of ``n`` elements: header plus data."""
    return len(npy_header(descr, n)) + n * np.dtype(descr).itemsize


def describe_header(actual: bytes, descr: str, n: int) -> str:
    """Why ``actual`` (a file's first bytes) is not the header of ``n`` elements of ``descr``.

    Returns a short phrase such as ``"its header says shape (10,), expected (12,)"``;
    an empty string when the header is exactly right.
    """
    expected = npy_header(descr, n)
    if actual[: len(expected)] == expected:
        return ""
    if not actual.startswith(_MAGIC[:6]):
        return "it does not start with the .npy magic string"
    if actual[6:8] != _MAGIC[6:8]:
        return f".npy format version {actual[6]}.{actual[7]}, expected 1.0"
    try:
        fh = io.BytesIO(actual)
        np.lib.format.read_magic(fh)
        found: Any = np.lib.format.read_array_header_1_0(fh, max_header_size=1 << 16)
    except Exception as exc:  # any malformed header, whatever numpy raises for it
        return f"its header cannot be read ({exc})"
    shape, fortran, dtype = found
    wrong = []
    if tuple(shape) != (n,):
        wrong.append(f"shape {tuple(shape)}, expected ({n},)")
    if fortran:
        wrong.append("fortran_order True, expected False")
    if dtype.str != descr:
        wrong.append(f"dtype {dtype.str!r}, expected {descr!r}")
    if not wrong:
        return "its header is laid out differently from the one dpa writes"
    return "its header says " + "; ".join(wrong)


def _pwrite(fd: int, data: memoryview, offset: int) -> int:
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows: one thread per descriptor here
    return os.write(fd, data)  # pragma: no cover


def _pread(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows
    return os.read(fd, size)  # pragma: no cover


def pwrite_all(fd: int, data: Any, offset: int) -> None:
    """Write all of ``data`` (bytes or a contiguous array) at ``offset``; short writes are continued."""
    view = memoryview(data).cast("B")
    while view:
        written = _pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def pread_exact(fd: int, size: int, offset: int) -> bytes:
    """Read ``size`` bytes at ``offset``; fewer only if the file ends first."""
    parts = []
    while size > 0:
        part = _pread(fd, size, offset)
        if not part:
            break
        parts.append(part)
        size -= len(part)
        offset += len(part)
    return b"".join(parts)


def preallocate(fd: int, size: int) -> None:
    """Make the file exactly ``size`` bytes, with its blocks reserved where the OS can.

    ``posix_fallocate`` reserves real blocks, so a full disk shows up here as
    ENOSPC rather than later. File systems without it (or platforms without
    it) fall back to setting the size; writes then report a full disk
    themselves, as plain ``OSError``.
    """
    if os.fstat(fd).st_size > size:
        os.ftruncate(fd, size)
    if size and hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    if os.fstat(fd).st_size != size:
        os.ftruncate(fd, size)


def first_difference(expected: np.ndarray, stored: bytes) -> int | None:
    """Index of the first element of ``expected`` whose bytes differ from ``stored`` (or are missing), else None.

    Bytes, not values, are compared: -0.0 differs from 0.0, a NaN equals
    itself only bit for bit, and a bool stored as byte 2 differs from True.
    """
    want = expected.view(np.uint8)
    if len(stored) == want.nbytes and want.tobytes() == stored:
        return None
    got = np.frombuffer(stored, dtype=np.uint8)
    itemsize = expected.itemsize
    whole = len(got) // itemsize * itemsize
    diff = (want[:whole].reshape(-1, itemsize) != got[:whole].reshape(-1, itemsize)).any(axis=1)
    if diff.any():
        return int(np.argmax(diff))
    return whole // itemsize  # the stored bytes end early
