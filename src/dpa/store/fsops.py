"""File-system steps the store is built from: a lock per output, atomic small files, durable renames, free space.

Also the store's test hooks: environment variables that stop the process
at named points of a run, so that tests can kill a real ``dpa generate`` at
every stage boundary (see docs/CLI.md, "Test hooks"). They are read here,
at the edge, and nowhere else.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from collections import Counter
from pathlib import Path
from types import TracebackType

from dpa.store.errors import OutputLockedError

__all__ = [
    "TEST_POINTS",
    "test_point",
    "check_test_hooks",
    "OutputLock",
    "atomic_write",
    "fsync_dir",
    "free_bytes",
    "free_inodes",
    "remove_known_files",
]

# Every point a run passes, in order (docs/CLI.md describes each).
TEST_POINTS = (
    "locked",  # the output's lock is held; nothing else done yet
    "partial-created",  # DIR.partial exists, empty
    "json-temp-written",  # a JSON file's temporary copy is written, not yet renamed into place (every JSON file)
    "pending-metadata-written",  # DIR.partial/metadata.pending.json is in place
    "npy-created",  # one .npy file exists with its header, not yet allocated (each file)
    "npy-allocated",  # one .npy file has its full size (each file)
    "files-ready",  # every .npy file is there at its full size
    "chunk-checked",  # --resume: one chunk of what an earlier run wrote was compared (each chunk)
    "chunk-written",  # one chunk's values are written, not yet recorded in progress.json (each chunk)
    "checkpoint-written",  # progress.json records a new count (each checkpoint)
    "data-synced",  # every value is written and flushed to disk
    "metadata-final",  # metadata.json is in place in DIR.partial
    "progress-removed",  # progress.json is gone: DIR.partial is the complete output
    "old-moved-aside",  # --overwrite: the previous output is renamed to DIR.dpa-old
    "renamed",  # DIR.partial is renamed to DIR
    "old-trashed",  # --overwrite: DIR.dpa-old is renamed to DIR.dpa-trash for deletion
    "file-removed",  # one file of a directory being deleted is gone (each file)
    "old-removed",  # --overwrite: the previous output is deleted
)

_HOOKS = {"DPA_TEST_KILL_AT": "kill", "DPA_TEST_STOP_AT": "stop", "DPA_TEST_ENOSPC_AT": "enospc"}
_passes: Counter = Counter()


def _parse_hook(variable: str, value: str) -> list[tuple[str, int]]:
    """``"point[:n][,point[:n]...]"`` as (point, n) pairs."""
    pairs = []
    for item in value.split(","):
        point, _, nth = item.strip().partition(":")
        if point not in TEST_POINTS:
            raise ValueError(f"{variable}={value!r}: unknown point {point!r}; the points are {', '.join(TEST_POINTS)}")
        if nth and (not nth.isdigit() or int(nth) < 1):
            raise ValueError(f"{variable}={value!r}: the count after ':' must be an integer >= 1; got {nth!r}")
        pairs.append((point, int(nth or 1)))
    return pairs


def check_test_hooks() -> None:
    """Start counting passes afresh (one count per run); raise ``ValueError`` if a hook names an unknown point.

    An unknown point is refused so that a test cannot pass by never firing.
    """
    _passes.clear()
    for variable in _HOOKS:
        value = os.environ.get(variable)
        if value:
            _parse_hook(variable, value)


def test_point(point: str, path: str | os.PathLike | None = None) -> None:
    """Mark that a run reached ``point``; a test hook may act on it.

    ``DPA_TEST_KILL_AT=point[:n]`` sends SIGKILL to this process the n-th
    time (default 1st) it reaches ``point``; ``DPA_TEST_STOP_AT`` sends
    SIGSTOP (the process waits, holding what it holds, until it is continued
    or killed); ``DPA_TEST_ENOSPC_AT`` raises ``OSError(ENOSPC)`` for
    ``path``, as a full disk would. Each may list several points, separated
    by commas. Without these variables it does nothing.
    """
    for variable, action in _HOOKS.items():
        value = os.environ.get(variable)
        if not value:
            continue
        pairs = _parse_hook(variable, value)
        if point not in (p for p, _ in pairs):
            continue
        _passes[variable, point] += 1
        if (point, _passes[variable, point]) not in pairs:
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        else:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path) if path is not None else None)


try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX
    _fcntl = None  # type: ignore[assignment]


class OutputLock:
    """An exclusive lock on one output, held as a ``with`` block by a single writer.

    The lock is ``flock`` on the file ``lock_path``: the kernel drops it when
    its holder exits or is killed, so a lock left by a dead process never
    blocks anyone (the file may stay; it is reused). The holder writes its
    pid into the file for the message others get, and deletes the file when
    it is done.

    Args:
        lock_path: the lock file (``DIR.dpa-lock``).
        output: the output it protects, for messages.

    Raises:
        OutputLockedError: on entry, if another process holds the lock.
    """

    def __init__(self, lock_path: Path, output: Path) -> None:
        self.path = lock_path
        self.output = output
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o644)
            try:
                if not self._try_lock(fd):
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                    raise OutputLockedError(
                        f"{self.output} is being written by another dpa process"
                        + (f" (pid {holder})" if holder.isdigit() else "")
                        + f"; it holds the lock {self.path}",
                        fix="wait for it to finish (a killed writer releases the lock at once)",
                    )
                # Another writer may have deleted the file between our open and
                # our lock: then we hold a lock on a name nobody else sees.
                if _same_file(fd, self.path):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    self._fd = fd
                    return self
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise OutputLockedError(f"{self.output}: could not take the lock {self.path} (it keeps being replaced)")

    @staticmethod
    def _try_lock(fd: int) -> bool:
        if _fcntl is None:  # pragma: no cover - not POSIX: the file's existence is the lock
            return True
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass  # a read-only or vanished directory: the lock dies with the descriptor anyway
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def atomic_write(path: Path, data: bytes, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a reader (or a crash) sees the old content or the new, never a mix.

    The bytes go to ``path.tmp`` first (flushed to disk with ``sync``), which
    is then renamed over ``path``.
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    test_point("json-temp-written", tmp)
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames, new and deleted files) to disk, where the platform allows."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # platforms that cannot open directories (Windows)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged writer may still use on ``path``'s file system (None if unknown)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def free_inodes(path: Path) -> int | None:
    """File entries (inodes) still free on ``path``'s file system (None where it does not count them)."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return st.f_favail if st.f_files else None


def remove_known_files(directory: Path, names: set[str], last: str | None = None) -> list[str]:
    """Delete the files of ``directory`` named in ``names`` (``last`` after the others), then the directory.

    Only names dpa writes are ever deleted; directories and other files are
    left where they are. A kill part-way leaves ``last`` (a marker such as
    metadata.json) until everything else is gone.

    Returns:
        The names left behind (empty when the directory itself was removed).
    """
    entries = sorted(os.listdir(directory))
    for name in [n for n in entries if n in names and n != last] + ([last] if last in entries and last in names else []):
        path = directory / name
        if os.path.isdir(path) and not os.path.islink(path):
            continue
        os.unlink(path)
        test_point("file-removed", path)
    left = sorted(os.listdir(directory))
    if not left:
        os.rmdir(directory)
    return left
