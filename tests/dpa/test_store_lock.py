"""One writer per output: a second one is refused clearly, and a killed writer's lock blocks nobody."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import dpa
from dpa.cli import main
from dpa.store import OutputLockedError, write_params
from dpa.store.fsops import OutputLock
from tests.dpa.store_helpers import reference, assert_clean_error, assert_same_output, dpa_process, run_dpa, snapshot

GEN = ("generate", "--preset", "moderate", "-n", "60000", "--chunk-size", "25000", "--no-progress")


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    return reference(tmp_path_factory, GEN)


def test_second_writer_is_refused_and_a_killed_holder_blocks_nobody(tmp_path, ref, capsys) -> None:
    out = tmp_path / "params"
    # A real writer, stopped (SIGSTOP) in the middle of its run, holding the lock.
    holder = dpa_process(*GEN, "--out", str(out), env={"DPA_TEST_STOP_AT": "chunk-written:1"})
    _, status = os.waitpid(holder.pid, os.WUNTRACED)
    try:
        assert os.WIFSTOPPED(status)
        before = snapshot(tmp_path / "params.partial")
        for extra in ((), ("--resume",), ("--overwrite",), ("--overwrite", "--resume")):
            r = run_dpa(*GEN, "--out", str(out), *extra)
            assert r.returncode == 3, (extra, r.stderr)
            assert_clean_error(r.stderr, f"{out} is being written by another dpa process (pid {holder.pid})", "wait")
        assert snapshot(tmp_path / "params.partial") == before  # the run in progress is untouched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert holder.returncode == -signal.SIGKILL
    assert (tmp_path / "params.dpa-lock").exists()  # left by the killed holder; the kernel released the lock itself
    assert main([*GEN, "--out", str(out), "--resume"]) == 0
    assert_same_output(out, ref)


def test_the_lock_in_one_process(tmp_path) -> None:
    lock = tmp_path / "x.dpa-lock"
    with OutputLock(lock, tmp_path / "x"):
        assert lock.read_text() == f"{os.getpid()}\n"
        with pytest.raises(OutputLockedError, match=f"pid {os.getpid()}"):
            with OutputLock(lock, tmp_path / "x"):
                pass
        # The library call is refused the same way, before touching anything.
        with pytest.raises(OutputLockedError, match="being written by another dpa process"):
            write_params(tmp_path / "x", dpa.get_preset("mild"), 10)
        assert not (tmp_path / "x.partial").exists()
        # Another output beside it has its own lock.
        write_params(tmp_path / "y", dpa.get_preset("mild"), 10)
    assert not lock.exists()  # a finished holder removes its lock file

