"""Helpers shared by the store's tests: run ``dpa`` as a user does, and compare output directories byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SIBLINGS = (".partial", ".dpa-lock", ".dpa-old", ".dpa-trash")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def dpa_process(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """``python -m dpa.cli ARGS`` as a real process (stdout and stderr piped, as text)."""
    full_env = dict(os.environ, **(env or {}))
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    # across exec: the child would never see a test's Ctrl-C. Give it the default disposition.
    kwargs.setdefault("preexec_fn", _default_sigint)
    return subprocess.Popen([sys.executable, "-m", "dpa.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, **kwargs)


def run_dpa(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``dpa ARGS`` to completion in a real process."""
    proc = dpa_process(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def reference(tmp_path_factory, args: tuple[str, ...] | list[str]) -> Path:
    """The output of an uninterrupted ``dpa ARGS --out <a fresh directory>``, run in this process."""
    from dpa.cli import main

    out = tmp_path_factory.mktemp("ref") / "params"
    assert main([*args, "--out", str(out)]) == 0
    return out


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file of ``directory`` (not recursive) by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def assert_same_output(out: Path, ref: Path) -> None:
    """``out`` holds exactly ``ref``'s files, byte for byte, and nothing of a run is left beside it."""
    assert out.is_dir() and not out.is_symlink(), f"{out} is not a directory"
    got, want = snapshot(out), snapshot(ref)
    assert sorted(got) == sorted(want), (sorted(set(got) ^ set(want)))
    for name in want:
        assert got[name] == want[name], f"{out / name} differs from the uninterrupted run's"
    leftovers = [out.with_name(out.name + s) for s in SIBLINGS if os.path.lexists(out.with_name(out.name + s))]
    assert not leftovers, leftovers


def assert_clean_error(stderr: str, *fragments: str) -> None:
    """One ``dpa: error:`` line (notes may come before it), no traceback, every fragment present."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("dpa: note:")]
    assert len(lines) == 1 and lines[0].startswith("dpa: error: "), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)
