"""Reading a finished output strictly, and checking it bit for bit against a fresh generation.

Strict means: ``metadata.json`` is exactly a dpa metadata object (format and
format version, every field present and in range, its config matching its
fingerprint, each output stored in ``<name>.npy`` inside the directory);
each ``.npy`` is a plain file (no symbolic link) of exactly the header dpa
writes and exactly ``n * itemsize`` data bytes. The values are then
regenerated and compared chunk by chunk, reading the files with ``pread``:
memory stays at a few chunks however large the output.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dpa import validate
from dpa.store.errors import DamagedOutputError, NotAnOutputError
from dpa.store.layout import METADATA, Layout, check_metadata, load_json
from dpa.store.npyfile import describe_header, first_difference, npy_header, pread_exact

__all__ = ["VerifyResult", "read_metadata", "check_files", "verify_params"]

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _as_path(directory: str | bytes | os.PathLike) -> Path:
    """``directory`` as a Path (bytes too, as write_params takes them); a TypeError names the argument."""
    if isinstance(directory, bytes):
        return Path(os.fsdecode(directory))
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path (str or os.PathLike); got {type(directory).__name__}")
    return Path(directory)


def _partial_hint(directory: Path) -> str:
    if not directory.name:  # "/": nothing beside it
        return ""
    partial = directory.with_name(directory.name + ".partial")
    if partial.exists():
        return f" ({partial} holds an interrupted run: finish it with generate --resume)"
    return ""


def read_metadata(directory: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a finished output directory, checked strictly.

    Args:
        directory: a directory written by :func:`dpa.store.write_params` (``dpa generate``).

    Returns:
        The parsed ``metadata.json``.

    Raises:
        NotAnOutputError: ``directory`` does not exist, is not a directory, or
            has no ``metadata.json`` (for example an interrupted run).
        DamagedOutputError: ``metadata.json`` is not valid dpa metadata (the
            message names the field).

    >>> read_metadata("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dpa.store.errors.NotAnOutputError: /nonexistent does not exist: not a finished dpa output directory
    """
    directory = _as_path(directory)
    if not directory.exists():
        raise NotAnOutputError(f"{directory} does not exist: not a finished dpa output directory{_partial_hint(directory)}")
    if not directory.is_dir():
        raise NotAnOutputError(f"{directory} is not a directory: not a dpa output directory")
    path = directory / METADATA
    try:
        meta = load_json(path)
    except FileNotFoundError:
        raise NotAnOutputError(
            f"{path} does not exist: not a finished dpa output directory{_partial_hint(directory)}"
        ) from None
    except ValueError as exc:
        raise DamagedOutputError(f"{path}: {exc}") from None
    check_metadata(meta, path)
    return meta


def layout_of(meta: dict[str, Any]) -> Layout:
    """The :class:`Layout` that checked metadata describes."""
    from dpa.config import AugmentationConfig

    return Layout(AugmentationConfig.from_dict(meta["config"]), meta["num_samples"], meta["seed"], meta["epoch"], meta["start"])


def check_files(directory: str | os.PathLike, layout: Layout) -> None:
    """Check every ``.npy`` of an output: a plain file, exactly the right size, exactly the right header.

    Raises:
        DamagedOutputError: naming the first file that is missing, a link,
            not a regular file, of the wrong size or with another header.
    """
    directory = _as_path(directory)
    for f in layout.files:
        path = directory / f.file
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise DamagedOutputError(f"{path} is missing") from None
        if stat.S_ISLNK(st.st_mode):
            raise DamagedOutputError(f"{path} is a symbolic link; a dpa output holds its own files")
        if not stat.S_ISREG(st.st_mode):
            raise DamagedOutputError(f"{path} is not a regular file")
        if st.st_size != f.size:
            raise DamagedOutputError(f"{path} is {st.st_size:,} bytes; {_size_words(f, st.st_size)}")
        header = npy_header(f.descr, f.num_samples)
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
        try:
            problem = describe_header(pread_exact(fd, len(header), 0), f.descr, f.num_samples)
        finally:
            os.close(fd)
        if problem:
            raise DamagedOutputError(f"{path}: {problem}")


def _size_words(f: Any, size: int) -> str:
    want = f"expected {f.size:,} ({len(npy_header(f.descr, f.num_samples))}-byte header + {f.num_samples:,} x {f.itemsize} bytes)"
    if size < f.size:
        return f"{want}: {f.size - size:,} bytes are missing (truncated)"
    return f"{want}: {size - f.size:,} bytes too many (trailing data)"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_params`: ``ok``, or the first problem found.

    Attributes:
        ok: every file is well formed and every value identical.
        samples: samples found identical before the first difference.
        output, sample_id, expected, found: the first differing value, when
            the problem is a value.
        message: one line saying what was found (naming the file or output).
    """

    ok: bool
    samples: int
    output: str | None = None
    sample_id: int | None = None
    expected: Any = None
    found: Any = None
    message: str = ""


def verify_params(
    directory: str | os.PathLike, chunk_size: int = 1 << 16, progress: Callable[[int], None] | None = None
) -> VerifyResult:
    """Check an output strictly and compare every stored value with a fresh generation, bit for bit.

    Args:
        directory: the output directory.
        chunk_size: samples compared at a time (memory is about
            ``chunk_size`` x (bytes per sample) x 2).
        progress: called with the number of samples checked after each chunk.

    Returns:
        A :class:`VerifyResult`: ``ok`` when the metadata and files are well
        formed and every value is identical; otherwise the first problem.

    Raises:
        NotAnOutputError: ``directory`` is not a dpa output (no ``metadata.json``).
        OSError: a file cannot be read.
    """
    directory = _as_path(directory)
    chunk_size = validate.count(chunk_size, "chunk_size")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable or None; got {progress!r}")
    try:
        layout = layout_of(read_metadata(directory))
        check_files(directory, layout)
    except DamagedOutputError as exc:
        return VerifyResult(False, 0, message=str(exc))
    n = layout.num_samples
    fds = {}
    try:
        for f in layout.files:
            fds[f.name] = os.open(directory / f.file, os.O_RDONLY | _O_NOFOLLOW)
        for lo in range(0, n, chunk_size):
            hi = min(lo + chunk_size, n)
            values = layout.values(lo, hi)
            for f in layout.files:
                offset = len(npy_header(f.descr, n)) + lo * f.itemsize
                stored = pread_exact(fds[f.name], (hi - lo) * f.itemsize, offset)
                bad = first_difference(values[f.name], stored)
                if bad is not None:
                    return _difference(layout, f, lo + bad, values[f.name][bad], stored[bad * f.itemsize:(bad + 1) * f.itemsize])
            if progress is not None:
                progress(hi)
    finally:
        for fd in fds.values():
            os.close(fd)
    return VerifyResult(True, n, message=f"all {n:,} samples x {len(layout.files)} outputs identical")


def _difference(layout: Layout, f: Any, index: int, want: Any, raw: bytes) -> VerifyResult:
    import numpy as np

    sid = layout.start + index
    expected = want.item()
    if len(raw) < f.itemsize:
        found: Any = "nothing (the file ended)"
    elif f.descr == "|b1" and raw[0] not in (0, 1):
        found = f"byte {raw[0]:#04x}, not a bool"
    else:
        found = np.frombuffer(raw, dtype=np.dtype(f.descr))[0].item()
    return VerifyResult(
        False,
        index,
        output=f.name,
        sample_id=sid,
        expected=expected,
        found=found,
        message=f"{f.name} differs at sample id {sid} ({f.file}, element {index}): expected {expected!r}, found {found!r}",
    )
