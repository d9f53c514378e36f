"""Writing an output so that it is safe at every instant: killed, out of space, or damaged in between.

The contract (docs/CLI.md has the whole protocol): at every instant the
output directory ``DIR`` holds either its previous complete content, or the
run has left a state that the same call with ``resume=True`` finishes,
byte for byte as an uninterrupted run would have. ``resume=True`` checks
whatever it continues from (metadata, headers, sizes, and every value
already written, against a fresh generation) and repairs or refuses; it
never continues silently over damage.

How: the new output is built in ``DIR.partial/`` (files preallocated, then
written with ``pwrite``: a full disk is an error, never a SIGBUS); progress
is recorded in ``progress.json`` every few MiB or every second; when every
value is written, ``metadata.pending.json`` is renamed to ``metadata.json``
and the directory renamed to ``DIR``. An existing ``DIR`` (``overwrite``)
is moved aside only after the new one is complete, and deleted last. One
writer at a time holds ``DIR.dpa-lock``.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpa import validate
from dpa.config import AugmentationConfig
from dpa.keys import MAX_SAMPLE_ID, check_epoch, check_sample_id, check_seed
from dpa.store.errors import (
    DamagedOutputError,
    NoSpaceError,
    NotAnOutputError,
    OutputExistsError,
    ResumeRefusedError,
    StoreError,
    StoreIOError,
    shorten,
)
from dpa.store.fsops import (
    OutputLock,
    atomic_write,
    check_test_hooks,
    free_bytes,
    free_inodes,
    fsync_dir,
    remove_known_files,
    test_point,
)
from dpa.store.layout import (
    FORMAT,
    METADATA,
    OWN_NAMES,
    PENDING,
    PROGRESS,
    Layout,
    OutputFile,
    OutputPaths,
    foreign_entries,
    listed_files,
    load_json,
    looks_like_output,
    output_path,
)
from dpa.store.npyfile import describe_header, first_difference, npy_header, pread_exact, preallocate, pwrite_all
from dpa.store.verify import check_files, read_metadata

__all__ = ["write_params", "StoreNote", "StoreWarning", "CHECKPOINT_BYTES", "CHECKPOINT_SECONDS"]

CHECKPOINT_BYTES = 4 << 20  # record progress after this many bytes of values ...
CHECKPOINT_SECONDS = 1.0  # ... or this long, whichever comes first
_JSON_SLACK = 64 << 10
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_PATH_ERRNOS = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP)
_SPACE_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class StoreWarning(UserWarning):
    """Warned by :func:`write_params` (when no ``notes`` callback is given) for repairs and clean-ups it made."""


@dataclass(frozen=True)
class StoreNote:
    """Something :func:`write_params` did besides writing, for the caller to show.

    Attributes:
        kind: ``"complete"`` (the output was already there: nothing written),
            ``"fresh"`` (nothing to resume: started from scratch),
            ``"resumed"`` (continued an interrupted run from this many samples),
            ``"repaired"`` (fixed damage in an interrupted run),
            ``"restarted"`` (discarded an interrupted run),
            ``"recovered"`` (finished the clean-up of an interrupted ``overwrite``),
            ``"kept"`` (left files dpa did not write where they were).
        message: one line, naming the path.
    """

    kind: str
    message: str


def _check_count(name: str, value: Any, low: int) -> int:
    return validate.integer(value, name, low)  # the rule every entry point uses (0-d tensors too)


def write_params(
    out_dir: str | os.PathLike,
    config: AugmentationConfig,
    num_samples: int,
    seed: int = 0,
    epoch: int = 0,
    start: int = 0,
    chunk_size: int = 1 << 18,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    notes: Callable[[StoreNote], None] | None = None,
) -> Path:
    """Generate the parameters of ids ``start .. start + num_samples - 1`` into the directory ``out_dir``.

    Safe at every instant: if the process is killed, runs out of space or
    fails in any way, ``out_dir`` keeps its previous content (or does not
    exist), and the same call with ``resume=True`` finishes the run with
    exactly the bytes an uninterrupted run writes.

    Args:
        out_dir: the output directory (its parent is created if needed).
        config: the config to generate.
        num_samples: how many samples (>= 0).
        seed, epoch: as for :func:`dpa.gen_augmentation_batch`.
        start: first sample id; the last id must stay below 2**64.
        chunk_size: samples generated at a time (memory is about
            ``chunk_size`` x bytes per sample); it does not change the output.
        overwrite: replace an existing dpa output in ``out_dir`` (only once
            the new one is complete), or discard an interrupted run.
        resume: continue an interrupted run of the same arguments, after
            checking what it wrote; if the output is already complete, only
            check its metadata and files and return; with nothing to resume,
            start from scratch.
        progress: called with the number of samples done after each chunk.
        notes: called with a :class:`StoreNote` for each repair, recovery
            or clean-up; without it they are warned as :class:`StoreWarning`.

    Returns:
        The output directory as an absolute Path.

    Raises:
        OutputExistsError: ``out_dir`` exists and ``overwrite`` is False, or an
            interrupted run exists and neither ``resume`` nor ``overwrite`` is set.
        NotAnOutputError: ``overwrite`` of a directory that is not a dpa output.
        OutputLockedError: another process is writing ``out_dir``.
        ResumeRefusedError: ``resume`` of a run started with other arguments,
            or of a directory holding files dpa did not write.
        NoSpaceError: the file system has no room (checked up front, and on
            any write); ``resume=True`` continues once there is.
        StoreIOError: another operating-system error, naming the path.
        ValueError, TypeError: bad arguments, or an unusable ``out_dir``.

    Example:
        >>> import tempfile, dpa
        >>> from dpa.store import write_params, verify_params
        >>> out = write_params(tempfile.mkdtemp() + "/params", dpa.get_preset("mild"), 1000)
        >>> verify_params(out).ok
        True
    """
    layout = _checked_layout(config, num_samples, seed, epoch, start)
    chunk_size = _check_count("chunk_size", chunk_size, 1)
    _check_options(out_dir, overwrite=overwrite, resume=resume, progress=progress, notes=notes)
    check_test_hooks()
    out = output_path(out_dir)
    run = _Run(OutputPaths.of(out), layout, chunk_size, progress, notes)
    with run.errors_in_words():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ValueError(f"the output directory's parent {out.parent} is not a directory") from None
        if resume and not overwrite and _read_only(out.parent) and run.complete_without_lock():
            return out
        with OutputLock(run.paths.lock, out):
            # Put in words while the lock is held, so a full disk is described as the error found it.
            with run.errors_in_words():
                test_point("locked")
                run.go(overwrite=overwrite, resume=resume)
    return out


def _checked_layout(config: Any, num_samples: Any, seed: Any, epoch: Any, start: Any) -> Layout:
    """The output's :class:`Layout`, every argument checked (TypeError, ValueError naming it)."""
    if not isinstance(config, AugmentationConfig):
        raise TypeError(f"config must be an AugmentationConfig; got {type(config).__name__}")
    seed, epoch = check_seed(seed), check_epoch(epoch)
    num_samples = _check_count("num_samples", num_samples, 0)
    start = check_sample_id(start, "start")
    if num_samples and start + num_samples - 1 > MAX_SAMPLE_ID:
        raise ValueError(
            f"start + num_samples - 1 must be < 2**64 (the largest sample id); got start={start}, num_samples={num_samples}"
        )
    return Layout(config, num_samples, seed, epoch, start)


def _check_options(out_dir: Any, **options: Any) -> None:
    """TypeError for a flag that is not a bool, a hook that is not callable, or an out_dir that is not a path."""
    for name in ("overwrite", "resume"):
        if not isinstance(options[name], bool):
            raise TypeError(f"{name} must be True or False; got {options[name]!r}")
    for name in ("progress", "notes"):
        if options[name] is not None and not callable(options[name]):
            raise TypeError(f"{name} must be a callable or None; got {options[name]!r}")
    if not isinstance(out_dir, (str, bytes, os.PathLike)):
        raise TypeError(f"out_dir must be a path (str or os.PathLike); got {type(out_dir).__name__}")


def _read_only(directory: Path) -> bool:
    """True if ``directory`` is on a file system mounted read-only (where no lock can be taken)."""
    try:
        return bool(os.statvfs(directory).f_flag & getattr(os, "ST_RDONLY", 1))
    except (OSError, AttributeError):
        return False


class _Messages:
    """What one call of write_params says: its notes, its progress, and OSErrors put in words."""

    def __init__(
        self,
        paths: OutputPaths,
        layout: Layout,
        chunk_size: int,
        progress: Callable[[int], None] | None,
        notes: Callable[[StoreNote], None] | None,
    ) -> None:
        self.paths, self.layout, self.chunk_size = paths, layout, chunk_size
        self._progress, self._notes = progress, notes
        self.current: Path = paths.lock  # the path being worked on, for error messages

    # -- messages -------------------------------------------------------------------
    def note(self, kind: str, message: str) -> None:
        if self._notes is not None:
            self._notes(StoreNote(kind, message))
        else:
            warnings.warn(message, StoreWarning, stacklevel=4)

    def progress(self, done: int) -> None:
        if self._progress is not None:
            self._progress(done)

    @contextmanager
    def errors_in_words(self) -> Iterator[None]:
        """Raise an OSError of the block as :meth:`translate` says; the store's own errors pass through."""
        try:
            yield
        except StoreError:
            raise
        except OSError as exc:
            raise self.translate(exc) from None

    def translate(self, exc: OSError) -> Exception:
        """An OSError in words: a full disk as NoSpaceError, a bad path as ValueError, the rest as StoreIOError."""
        path = exc.filename if exc.filename is not None else self.current
        reason = exc.strerror or str(exc)
        if exc.errno in _SPACE_ERRNOS:
            parent = self.paths.dir.parent
            return NoSpaceError(self.paths.dir, self.remaining_bytes(), free_bytes(parent), path, free_inodes(parent) == 0)
        if exc.errno in _PATH_ERRNOS:
            return ValueError(f"cannot use {shorten(path)} for the output: {reason}")
        return StoreIOError(f"cannot write {path}: {reason}" if exc.errno != errno.EFBIG
                            else f"cannot write {path}: {reason} (the file system cannot hold a file this large)")

    def remaining_bytes(self) -> int:
        """Bytes the output still needs: what its files lack of their full size, plus room for small files."""
        missing = 0
        for f in self.layout.files:
            try:
                st = os.lstat(self.paths.partial / f.file)
                have = min(st.st_size, getattr(st, "st_blocks", st.st_size // 512) * 512) if stat.S_ISREG(st.st_mode) else 0
            except OSError:
                have = 0
            missing += max(0, f.size - have)
        return missing + _JSON_SLACK


class _Files(_Messages):
    """The writing of DIR.partial: its directory, its files, chunk by chunk, checked, then its metadata."""

    def create_partial(self) -> None:
        p = self.paths
        self.current = p.partial
        os.mkdir(p.partial)
        test_point("partial-created", p.partial)
        self.current = p.partial / PENDING
        atomic_write(p.partial / PENDING, self.layout.metadata_bytes)
        test_point("pending-metadata-written")

    # -- writing values ---------------------------------------------------------------
    def open_file(self, f: OutputFile, trusted: bool) -> int:
        """Open (creating or repairing) one .npy of DIR.partial at its full size; ``trusted``: damage is news."""
        path = self.paths.partial / f.file
        self.current = path
        try:
            st: os.stat_result | None = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            self.note("repaired", f"{path} was not a regular file (a symbolic link?); replaced by one")
            os.unlink(path)
            st = None
        elif st is not None and st.st_nlink > 1:
            # Writing would change the other names of the file too (a `cp -al` snapshot, say).
            self.note("repaired", f"{path} was a hard link shared with another file; replaced by a file of its own")
            os.unlink(path)
            st = None
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC, 0o644)
        try:
            header = npy_header(f.descr, f.num_samples)
            if st is None:
                if trusted:
                    self.note("repaired", f"{path} was missing; made again")
                pwrite_all(fd, header, 0)
                test_point("npy-created", path)
            else:
                problem = describe_header(pread_exact(fd, len(header), 0), f.descr, f.num_samples)
                if problem:
                    if trusted:
                        self.note("repaired", f"{path}: {problem}; header written again")
                    pwrite_all(fd, header, 0)
                if trusted and st.st_size != f.size:
                    self.note("repaired", f"{path} was {st.st_size:,} bytes, not {f.size:,}; resized")
            preallocate(fd, f.size)
            test_point("npy-allocated", path)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def fill(self, done: int) -> None:
        layout, n, chunk = self.layout, self.layout.num_samples, self.chunk_size
        header = len(npy_header("<f8", n))
        fds: dict[str, int] = {}
        try:
            for f in layout.files:
                fds[f.name] = self.open_file(f, trusted=done > 0)
            test_point("files-ready")
            self.progress(0)
            self.check_written(fds, header, done)
            since_bytes, since_time = 0, time.monotonic()
            for lo in range(done, n, chunk):
                hi = min(lo + chunk, n)
                values = layout.values(lo, hi)
                for f in layout.files:
                    self.current = self.paths.partial / f.file
                    pwrite_all(fds[f.name], values[f.name], header + lo * f.itemsize)
                    since_bytes += (hi - lo) * f.itemsize
                test_point("chunk-written")
                if hi < n and (since_bytes >= CHECKPOINT_BYTES or time.monotonic() - since_time >= CHECKPOINT_SECONDS):
                    self.current = self.paths.partial / PROGRESS
                    # Not flushed to disk: --resume checks every value progress.json covers anyway.
                    atomic_write(self.paths.partial / PROGRESS, json.dumps({"done": hi}).encode() + b"\n", sync=False)
                    test_point("checkpoint-written")
                    since_bytes, since_time = 0, time.monotonic()
                self.progress(hi)
            for f in layout.files:
                self.current = self.paths.partial / f.file
                os.fsync(fds[f.name])
            test_point("data-synced")
        finally:
            for fd in fds.values():
                os.close(fd)

    def check_written(self, fds: dict[str, int], header: int, done: int) -> None:
        """Compare samples [0, done) with a fresh generation; rewrite whatever differs."""
        first_bad: dict[str, int] = {}
        for lo in range(0, done, self.chunk_size):
            hi = min(lo + self.chunk_size, done)
            values = self.layout.values(lo, hi)
            for f in self.layout.files:
                self.current = self.paths.partial / f.file
                offset = header + lo * f.itemsize
                bad = first_difference(values[f.name], pread_exact(fds[f.name], (hi - lo) * f.itemsize, offset))
                if bad is not None:
                    first_bad.setdefault(f.file, self.layout.start + lo + bad)
                    pwrite_all(fds[f.name], values[f.name], offset)
            test_point("chunk-checked")
            self.progress(hi)
        if first_bad:
            listed = ", ".join(f"{name} (from sample id {sid})" for name, sid in first_bad.items())
            self.note("repaired", f"{self.paths.partial}: values already written differed from a fresh generation "
                                  f"in {listed}; written again")

    def finish(self, finalized: bool) -> None:
        partial = self.paths.partial
        if not finalized:
            self.current = partial / METADATA
            os.replace(partial / PENDING, partial / METADATA)
            fsync_dir(partial)
            test_point("metadata-final")
        for name in (PENDING, PROGRESS, *(n + ".tmp" for n in (METADATA, PENDING, PROGRESS))):
            if os.path.lexists(partial / name):
                self.current = partial / name
                os.unlink(partial / name)
        fsync_dir(partial)
        test_point("progress-removed")


class _Moves(_Messages):
    """Moving outputs into place and clearing away what an earlier or interrupted run left."""

    def swap(self) -> None:
        p = self.paths
        self.current = p.dir
        if os.path.lexists(p.dir):
            os.rename(p.dir, p.old)
            test_point("old-moved-aside", p.old)
        os.rename(p.partial, p.dir)
        fsync_dir(p.dir.parent)
        test_point("renamed", p.dir)
        if os.path.lexists(p.old):
            self.trash_old()

    # -- interrupted overwrites and clean-up ----------------------------------------
    def recover_aside(self, allowed: bool) -> None:
        """Finish what a killed ``overwrite`` left: delete DIR.dpa-trash; delete or restore DIR.dpa-old."""
        p = self.paths
        for path in (p.old, p.trash):
            if os.path.lexists(path) and not allowed:
                raise OutputExistsError(f"{path} is left from an interrupted --overwrite of {p.dir}",
                                        fix="rerun with {resume} (and {overwrite}) to finish that run")
        if os.path.lexists(p.trash):
            self.remove_trash(strict=True)
            self.note("recovered", f"finished deleting the previous output of {p.dir} ({p.trash})")
        if os.path.lexists(p.old):
            if not looks_like_output(p.old) and not (p.old.is_dir() and not os.listdir(p.old)):
                raise ResumeRefusedError(f"{p.old} exists and is not a dpa output", fix="move it away and rerun")
            if os.path.lexists(p.dir):
                self.trash_old()
                self.note("recovered", f"finished deleting the previous output of {p.dir} ({p.old})")
            else:
                self.current = p.old
                os.rename(p.old, p.dir)
                fsync_dir(p.dir.parent)
                self.note("recovered", f"put the previous output back in place ({p.old} -> {p.dir})")

    def trash_old(self) -> None:
        p = self.paths
        self.current = p.old
        os.rename(p.old, p.trash)
        test_point("old-trashed", p.trash)
        self.remove_trash(strict=False)
        fsync_dir(p.dir.parent)
        test_point("old-removed", p.trash)

    def remove_trash(self, strict: bool) -> None:
        """Delete DIR.dpa-trash; files dpa did not write there are refused (``strict``) or kept, with a note."""
        trash = self.paths.trash
        self.current = trash
        if trash.is_symlink() or not trash.is_dir():
            raise ResumeRefusedError(f"{trash} is not a directory dpa made", fix="move it away and rerun")
        names = set(OWN_NAMES) | listed_files(trash / METADATA)
        foreign = foreign_entries(trash, names)
        if foreign:
            message = f"{trash} (the previous output of {self.paths.dir}) holds {', '.join(foreign[:5])}, which dpa did not write"
            if strict:
                raise ResumeRefusedError(message, fix="move them away and rerun")
            self.note("kept", f"{message}; left in place")
            return
        remove_known_files(trash, names, last=METADATA)

    def remove_partial(self) -> None:
        partial = self.paths.partial
        self.current = partial
        if partial.is_symlink() or not partial.is_dir():
            raise ResumeRefusedError(f"{partial} is not a directory dpa made", fix="move it away and rerun")
        names = set(OWN_NAMES) | {f.file for f in self.layout.files} | listed_files(partial / PENDING)
        names |= listed_files(partial / METADATA)
        foreign = foreign_entries(partial, names)
        if foreign:  # checked before anything is deleted
            raise ResumeRefusedError(f"{partial} holds {', '.join(foreign[:5])}, which dpa did not write",
                                     fix="move them away and rerun")
        remove_known_files(partial, names, last=PENDING)


class _Run(_Files, _Moves):
    """One call of write_params, holding the lock: the steps of the protocol, deciding what to do."""

    def go(self, overwrite: bool, resume: bool) -> None:
        self.recover_aside(allowed=overwrite or resume)
        if self.settle_existing(self.dir_state(), overwrite=overwrite, resume=resume):
            return
        done, finalized = self.plan(overwrite=overwrite, resume=resume)
        self.check_space()
        if done is None:
            self.create_partial()
            done, finalized = 0, False
        self.fill(done)
        self.finish(finalized)
        self.swap()

    def settle_existing(self, state: str, overwrite: bool, resume: bool) -> bool:
        """Decide about what DIR holds (:meth:`dir_state`): raise, or True when it is complete already."""
        p = self.paths
        if state == "foreign":
            if overwrite:
                raise NotAnOutputError(
                    f"{p.dir} exists and is not a dpa output (no metadata.json of format {FORMAT!r}): refusing to replace it",
                    fix="choose another output directory, or remove it yourself",
                )
            raise OutputExistsError(f"{p.dir} already exists (and is not a dpa output)", fix="choose another output directory")
        if state == "same" and resume:
            try:
                self.check_complete()
            except DamagedOutputError as exc:
                if not overwrite:
                    raise OutputExistsError(f"{p.dir} holds this output but it is damaged: {exc}",
                                            fix="pass {overwrite} to generate it again") from None
                self.note("restarted", f"{p.dir} is damaged ({exc}); generating it again")
            else:
                if os.path.lexists(p.partial):
                    if overwrite:
                        self.remove_partial()
                    else:
                        self.note("kept", f"{p.partial} holds an interrupted run; left as it is")
                self.note("complete", f"{p.dir} is already complete (metadata and files checked; "
                                      f"`dpa verify` compares every value)")
                self.progress(self.layout.num_samples)
                return True
        if state in ("same", "other") and overwrite:
            foreign = foreign_entries(p.dir, {METADATA} | listed_files(p.dir / METADATA))
            if foreign:
                raise NotAnOutputError(f"{p.dir} holds {', '.join(foreign[:5])}, which dpa did not write: "
                                       f"refusing to replace it", fix="move them away first")
        if state != "absent" and not overwrite:
            if state == "same":
                raise OutputExistsError(f"{p.dir} already exists and holds this same output",
                                        fix="pass {resume} to check that it is complete, or {overwrite} to replace it")
            what = " (an empty directory)" if state == "empty" else ""
            raise OutputExistsError(f"{p.dir} already exists{what}", fix="pass {overwrite} to replace it")
        return False

    def dir_state(self) -> str:
        d = self.paths.dir
        if not os.path.lexists(d):
            return "absent"
        if not d.is_dir():
            return "foreign"
        if not os.listdir(d):
            return "empty"
        if not looks_like_output(d):
            return "foreign"
        try:
            meta = read_metadata(d)
        except DamagedOutputError:
            return "other"
        return "same" if not self.layout.differences(meta) else "other"

    def complete_without_lock(self) -> bool:
        """On a read-only file system nobody writes ``DIR``: if it is this complete output, say so (True)."""
        if self.dir_state() != "same":
            return False
        try:
            self.check_complete()
        except DamagedOutputError:
            return False
        self.note("complete", f"{self.paths.dir} is already complete (metadata and files checked, on a read-only "
                              f"file system; `dpa verify` compares every value)")
        self.progress(self.layout.num_samples)
        return True

    def check_complete(self) -> None:
        read_metadata(self.paths.dir)
        check_files(self.paths.dir, self.layout)

    def plan(self, overwrite: bool, resume: bool) -> tuple[int | None, bool]:
        """(samples already done, whether DIR.partial is complete), or (None, False) to start from scratch."""
        p = self.paths
        if not os.path.lexists(p.partial):
            if resume:
                self.note("fresh", f"nothing to resume (no {p.partial}): starting from scratch")
            return None, False
        if not resume:
            if not overwrite:
                raise OutputExistsError(f"{p.partial} holds an interrupted run of {p.dir}",
                                        fix="pass {resume} to finish it, or {overwrite} to start again")
            self.remove_partial()
            return None, False
        try:
            return self.inspect_partial()
        except _Discardable as exc:
            if not overwrite:
                raise ResumeRefusedError(exc.message, fix="rerun with the arguments it was started with, "
                                                          "or pass {overwrite} to start again") from None
            self.note("restarted", f"{exc.message}; starting again from scratch")
            self.remove_partial()
            return None, False

    def inspect_partial(self) -> tuple[int | None, bool]:
        p = self.paths
        if p.partial.is_symlink() or not p.partial.is_dir():
            raise ResumeRefusedError(f"{p.partial} is not a directory dpa made", fix="move it away and rerun")
        known = {f.file for f in self.layout.files} | listed_files(p.partial / PENDING) | listed_files(p.partial / METADATA)
        foreign = foreign_entries(p.partial, known)
        if foreign:
            raise ResumeRefusedError(f"{p.partial} holds {', '.join(foreign[:5])}, which dpa did not write",
                                     fix="move them away and rerun")
        final = self.own_json(p.partial / METADATA)
        pending = not final and self.own_json(p.partial / PENDING)
        if final:
            self.note("resumed", f"{p.partial} is complete; checking every value before moving it into place")
            return self.layout.num_samples, True
        if not pending:
            if any(name.endswith(".npy") or name == PROGRESS for name in os.listdir(p.partial)):
                self.note("fresh", f"{p.partial} has no {PENDING}: writing every sample again")
            self.current = p.partial / PENDING
            atomic_write(p.partial / PENDING, self.layout.metadata_bytes)
            test_point("pending-metadata-written")
            return 0, False
        done = self.read_progress()
        if done:
            self.note("resumed", f"resuming {p.partial} after {done:,} of {self.layout.num_samples:,} samples "
                                 f"(checking those first)")
        return done, False

    def own_json(self, path: Path) -> bool:
        """True if ``path`` is this run's metadata (rewritten to this dpa's bytes), False if absent."""
        self.current = path
        try:
            with open(path, "rb") as fh:
                raw = fh.read(len(self.layout.metadata_bytes) + 1)
        except FileNotFoundError:
            return False
        except IsADirectoryError:
            raise ResumeRefusedError(f"{path} is a directory, which dpa did not write", fix="move it away and rerun") from None
        if raw == self.layout.metadata_bytes and not path.is_symlink():
            return True
        try:
            meta = load_json(path)
        except ValueError as exc:
            raise _Discardable(f"{path} is damaged ({exc}): cannot tell which run {self.paths.partial} belongs to") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise _Discardable(f"{path} is not dpa metadata: cannot tell which run {self.paths.partial} belongs to")
        diff = self.layout.differences(meta)
        if diff:
            shown = ", ".join(f"{k}={meta.get(k)!r}" for k in diff if k != "outputs")
            raise _Discardable(f"{self.paths.partial} was started with different {', '.join(diff)}"
                               + (f" ({shown})" if shown else ""))
        # The same run, written by another dpa version: from now on, this version's bytes.
        atomic_write(path, self.layout.metadata_bytes)
        return True

    def read_progress(self) -> int:
        path = self.paths.partial / PROGRESS
        n = self.layout.num_samples
        try:
            data = load_json(path)
        except FileNotFoundError:
            return 0
        except ValueError as exc:
            self.note("repaired", f"{path} is damaged ({exc}): writing every sample again")
            return 0
        done = data.get("done") if isinstance(data, dict) else None
        if isinstance(done, bool) or not isinstance(done, int) or not 0 <= done <= n or set(data) != {"done"}:
            self.note("repaired", f"{path} does not hold a sample count in [0, {n}] ({json.dumps(data)[:80]}): "
                                  f"writing every sample again")
            return 0
        return done

    def check_space(self) -> None:
        needed = self.remaining_bytes()
        free = free_bytes(self.paths.dir.parent)
        if free is not None and needed > free:
            raise NoSpaceError(self.paths.dir, needed, free)


class _Discardable(Exception):
    """An interrupted run that belongs to other arguments (or cannot be told): refused, or discarded with overwrite."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
