"""A full disk: checked up front, reported as one line with exit 4 wherever it happens, and --resume continues after.

Where the machine allows mounting (root, as on the development machine), the
disk is a real, small tmpfs; elsewhere the same runs get a simulated ENOSPC
from the store's write layer (the documented ``DPA_TEST_ENOSPC_AT`` hook), so
nothing is skipped.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from dpa.cli import main
from tests.dpa.store_helpers import reference, assert_clean_error, assert_same_output, run_dpa

GEN = ("generate", "--preset", "moderate", "-n", "30000", "--chunk-size", "12500", "--no-progress")  # 5.6 MB


@contextmanager
def tmpfs(where: Path, **options: str):
    """A tmpfs mounted at ``where`` (yields None where mounting is not permitted); always unmounted after."""
    where.mkdir()
    opts = ",".join(f"{k}={v}" for k, v in options.items())
    mounted = shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True).returncode == 0
    try:
        yield where if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)


def remount(where: Path, *options: str) -> None:
    subprocess.run(["mount", "-o", ",".join(["remount", *options]), str(where)], check=True)


def fill(where: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    block = b"\xff" * (64 << 10)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return filler


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    return reference(tmp_path_factory, GEN)


def nothing_left(out: Path) -> bool:
    return not any(os.path.lexists(out.with_name(out.name + s)) for s in (".partial", ".dpa-lock")) and not out.exists()


def test_too_little_space_is_found_up_front(tmp_path) -> None:
    with tmpfs(tmp_path / "disk", size="4m") as disk:
        if disk is not None:
            out, n, needs = disk / "params", "100000", "18.6 MB"
        else:  # no mounting here: a request larger than the real disk
            out, n, needs = tmp_path / "params", str(10**14), "18.5 PB"
        r = run_dpa("generate", "--preset", "moderate", "-n", n, "--out", str(out))
        assert r.returncode == 4, r.stderr
        assert_clean_error(r.stderr, f"not enough space for {out}", f"needs {needs}", "free", "--resume")
        assert nothing_left(out)


def test_a_huge_request_says_how_much_disk_it_needs(tmp_path) -> None:
    r = run_dpa("generate", "--preset", "moderate", "-n", "18446744073709551615", "--out", str(tmp_path / "p"))
    assert r.returncode == 4
    assert_clean_error(r.stderr, "needs 3.4 ZB")


def test_disk_full_while_creating_files_then_resume(tmp_path, ref, capsys) -> None:
    """Out of file entries while the .npy files are being created: a real ENOSPC past the up-front check."""
    with tmpfs(tmp_path / "disk", size="64m", nr_inodes="12") as disk:
        if disk is not None:
            out = disk / "params"
            r = run_dpa(*GEN, "--out", str(out))
        else:
            out = tmp_path / "params"
            r = run_dpa(*GEN, "--out", str(out), env={"DPA_TEST_ENOSPC_AT": "npy-created:6"})
        assert r.returncode == 4, r.stderr
        assert_clean_error(r.stderr, "not enough space for", f"writing {out}.partial/", "--resume")
        assert not out.exists() and (out.parent / "params.partial").is_dir()
        if disk is not None:
            assert "inodes" in r.stderr
            remount(disk, "nr_inodes=1000")
        assert main([*GEN, "--out", str(out), "--resume"]) == 0
        assert_same_output(out, ref)


def test_disk_full_in_the_middle_then_resume(tmp_path, ref, capsys) -> None:
    with tmpfs(tmp_path / "disk", size="7m") as disk:
        if disk is not None:
            out = disk / "params"
            killed = run_dpa(*GEN, "--out", str(out), env={"DPA_TEST_KILL_AT": "checkpoint-written:1"})
            assert killed.returncode == -signal.SIGKILL
            filler = fill(disk)  # someone else fills the disk meanwhile
            r = run_dpa(*GEN, "--out", str(out), "--resume")
        else:
            out = tmp_path / "params"
            r = run_dpa(*GEN, "--out", str(out), env={"DPA_TEST_ENOSPC_AT": "checkpoint-written:1"})
        assert r.returncode == 4, r.stderr  # never SIGBUS (-7), never a traceback
        assert_clean_error(r.stderr, "not enough space for", str(out), "--resume")
        assert not out.exists()
        if disk is not None:
            # Still full: refused again, cleanly, and nothing damaged.
            assert run_dpa(*GEN, "--out", str(out), "--resume").returncode == 4
            filler.unlink()
        assert main([*GEN, "--out", str(out), "--resume"]) == 0
        assert_same_output(out, ref)


def test_disk_full_while_writing_values_then_resume(tmp_path, ref) -> None:
    """ENOSPC from a data write (a file system that cannot preallocate would give it there)."""
    out = tmp_path / "params"
    r = run_dpa(*GEN, "--out", str(out), env={"DPA_TEST_ENOSPC_AT": "chunk-written:2"})
    assert r.returncode == 4
    assert_clean_error(r.stderr, "not enough space for")
    assert main([*GEN, "--out", str(out), "--resume"]) == 0
    assert_same_output(out, ref)


def test_read_only_file_system(tmp_path) -> None:
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        if disk is None:
            pytest.skip("mounting a file system is not permitted here")
        remount(disk, "ro")
        r = run_dpa(*GEN, "--out", str(disk / "params"))
        assert r.returncode == 4
        assert_clean_error(r.stderr, "Read-only file system", str(disk))



def test_resume_of_a_complete_output_on_a_read_only_file_system_succeeds(tmp_path) -> None:
    # A pipeline that always runs `generate ... --resume` over outputs mounted read-only: nothing to
    # write, so nothing to lock; anything short of complete still needs a writable disk (exit 4).
    mild = ("generate", "--preset", "mild", "-n", "1000", "--no-progress")
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        if disk is None:
            pytest.skip("mounting a file system is not permitted here")
        assert main([*mild, "--out", str(disk / "params")]) == 0
        remount(disk, "ro")
        r = run_dpa(*mild, "--out", str(disk / "params"), "--resume")
        assert r.returncode == 0, r.stderr
        assert "already complete" in r.stdout and "read-only" in r.stderr
        r = run_dpa(*mild, "--seed", "1", "--out", str(disk / "params"), "--resume")
        assert r.returncode == 4  # another seed: it would have to write
        assert_clean_error(r.stderr, "Read-only file system")
        assert run_dpa("verify", str(disk / "params")).returncode == 0
