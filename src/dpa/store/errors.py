"""What :mod:`dpa.store` raises when it refuses, cannot write, or finds damage.

Every error names the path it is about. A remedy that needs another option is
written once, as a template, and read in the caller's words: ``str(exc)``
speaks the library's (``overwrite=True``), :meth:`StoreError.cli_message`
the command line's (``--overwrite``).

>>> err = OutputExistsError("out/ already exists", fix="pass {overwrite} to replace it")
>>> str(err)
'out/ already exists; pass overwrite=True to replace it'
>>> err.cli_message()
'out/ already exists; pass --overwrite to replace it'
"""

from __future__ import annotations

import os

__all__ = [
    "StoreError",
    "OutputExistsError",
    "NotAnOutputError",
    "OutputLockedError",
    "ResumeRefusedError",
    "DamagedOutputError",
    "NoSpaceError",
    "StoreIOError",
    "format_bytes",
    "shorten",
]

_API_WORDS = {"overwrite": "overwrite=True", "resume": "resume=True"}
_CLI_WORDS = {"overwrite": "--overwrite", "resume": "--resume"}


class StoreError(Exception):
    """Base class of the store's errors.

    Args:
        message: what is wrong, naming the path.
        fix: what to do instead; ``{overwrite}`` and ``{resume}`` stand for
            the option that does it.
    """

    def __init__(self, message: str, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(self._render(_API_WORDS))

    def _render(self, words: dict[str, str]) -> str:
        return self.message + ("; " + self.fix.format(**words) if self.fix else "")

    def cli_message(self) -> str:
        """The message with remedies spelled as command-line options."""
        return self._render(_CLI_WORDS)


class OutputExistsError(StoreError, FileExistsError):
    """The output (or an interrupted run of it) exists and no option says what to do with it."""


class NotAnOutputError(StoreError):
    """A directory that is not a dpa output: never replaced, deleted or verified."""


class OutputLockedError(StoreError):
    """Another process is writing the same output right now."""


class ResumeRefusedError(StoreError, ValueError):
    """An interrupted run cannot be continued by this call (other arguments, damage that cannot be repaired)."""


class DamagedOutputError(StoreError, ValueError):
    """A dpa output whose metadata or files are not what the format requires."""


class NoSpaceError(StoreError):
    """The file system has no room for the output.

    Attributes:
        path: the output directory.
        writing: the file being written when the disk filled (None when
            found short up front).
        needed: bytes the rest of the run needs.
        free: bytes the file system reported free (None when unknown).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        needed: int,
        free: int | None,
        writing: str | os.PathLike | None = None,
        no_inodes: bool = False,
    ) -> None:
        self.path, self.needed, self.free = os.fspath(path), needed, free
        self.writing = os.fspath(writing) if writing is not None else None
        where = f" (writing {shorten(self.writing)})" if self.writing and self.writing != self.path else ""
        free_text = f", {format_bytes(free)} free" if free is not None else ""
        inodes = " but no file entries (inodes) left" if no_inodes else ""
        super().__init__(
            f"not enough space for {shorten(self.path)}{where}: the output needs {format_bytes(needed)} more"
            f"{free_text}{inodes}",
            fix="free some space and rerun with {resume} to continue",
        )


class StoreIOError(StoreError):
    """An operating-system error while reading or writing the output (permissions, read-only file system, ...)."""


def format_bytes(n: int) -> str:
    """``n`` bytes in words: ``'18.5 GB (18,500,000,000 bytes)'``; small counts as plain bytes.

    >>> format_bytes(512)
    '512 bytes'
    >>> format_bytes(18_500_000_000)
    '18.5 GB (18,500,000,000 bytes)'
    """
    if n < 1000:
        return f"{n} bytes"
    value, unit = float(n), "B"
    for unit in ("kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"):
        value /= 1000
        if value < 1000:
            break
    return f"{value:.1f} {unit} ({n:,} bytes)"


def shorten(path: str | os.PathLike, limit: int = 200) -> str:
    """``path`` as text, its middle elided when longer than ``limit`` characters (for one-line messages).

    >>> shorten("/a" * 200, limit=20)
    '/a/a/a/ ... a/a/a/a'
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return text[:half] + " ... " + text[-half:]
