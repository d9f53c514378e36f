"""`dpa generate` killed with a real SIGKILL at every stage boundary, and at random times.

The contract: at every instant the output directory holds its previous
complete content (or, for a first run, does not exist), or the run left a
state that the same command with --resume finishes byte for byte as an
uninterrupted run. The kills are injected with the documented test hook
``DPA_TEST_KILL_AT=point[:n]`` (docs/CLI.md) in real `python -m dpa.cli`
processes; each test checks the state at the kill, then resumes.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from dpa.cli import main
from dpa.store import TEST_POINTS
from tests.dpa.store_helpers import reference, assert_same_output, dpa_process, run_dpa, snapshot

# 60,000 moderate samples in chunks of 25,000: three chunks, two checkpoints (4.6 MB each), 11 MB in all.
N, CHUNK = "60000", "25000"
GEN = ("generate", "--preset", "moderate", "-n", N, "--seed", "5", "--chunk-size", CHUNK, "--no-progress")
OLD = ("generate", "--preset", "mild", "-n", "3000", "--no-progress")  # the previous output --overwrite replaces


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    """The uninterrupted run's output."""
    return reference(tmp_path_factory, GEN)


@pytest.fixture(scope="module")
def old_ref(tmp_path_factory) -> Path:
    return reference(tmp_path_factory, OLD)


def killed(args: tuple[str, ...], point: str) -> None:
    r = run_dpa(*args, env={"DPA_TEST_KILL_AT": point})
    assert r.returncode == -signal.SIGKILL, f"the run was not killed at {point}: rc {r.returncode}\n{r.stderr}"


def resume(args: tuple[str, ...], out: Path, capsys) -> tuple[str, str]:
    """Run ``ARGS --out OUT --resume`` in this process; it must succeed. Returns its (stdout, stderr)."""
    capsys.readouterr()
    assert main([*args, "--out", str(out), "--resume"]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


FRESH_POINTS = [
    "locked",
    "partial-created",
    "json-temp-written:1",  # metadata.pending.json.tmp, before its rename
    "pending-metadata-written",
    "npy-created:1",
    "npy-allocated:24",
    "files-ready",
    "chunk-written:1",
    "json-temp-written:2",  # progress.json.tmp of the first checkpoint
    "checkpoint-written:1",
    "chunk-written:2",
    "checkpoint-written:2",
    "data-synced",
    "metadata-final",
    "progress-removed",
    "renamed",
]


@pytest.mark.parametrize("point", FRESH_POINTS)
def test_kill_a_first_run_then_resume(point, tmp_path, ref, capsys) -> None:
    out = tmp_path / "params"
    killed((*GEN, "--out", str(out)), point)
    # Nothing that looks complete before the final rename; the complete output after it.
    if FRESH_POINTS.index(point) < FRESH_POINTS.index("renamed"):
        assert not os.path.lexists(out)
        assert run_dpa("verify", str(out)).returncode == 2
    else:
        assert snapshot(out) == snapshot(ref)
    resume(GEN, out, capsys)
    assert_same_output(out, ref)
    # Resuming a complete output reports success and writes nothing.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert "already complete" in resume(GEN, out, capsys)[0]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


OVERWRITE_POINTS = [
    "locked",
    "partial-created",
    "pending-metadata-written",
    "files-ready",
    "checkpoint-written:1",
    "metadata-final",
    "progress-removed",
    "old-moved-aside",
    "renamed",
    "old-trashed",
    "file-removed:13",  # the previous output's last .npy gone, its metadata.json still there
    "old-removed",
]


@pytest.mark.parametrize("point", OVERWRITE_POINTS)
def test_kill_an_overwrite_then_resume(point, tmp_path, ref, old_ref, capsys) -> None:
    out = tmp_path / "params"
    assert main([*OLD, "--out", str(out)]) == 0
    args = (*GEN, "--overwrite")
    killed((*args, "--out", str(out)), point)
    i = OVERWRITE_POINTS.index(point)
    if i < OVERWRITE_POINTS.index("old-moved-aside"):
        assert snapshot(out) == snapshot(old_ref)  # the previous output, untouched
    elif point == "old-moved-aside":
        assert not os.path.lexists(out)  # the one instant between the two renames
        assert snapshot(tmp_path / "params.dpa-old") == snapshot(old_ref)
        # A plain rerun refuses and says how to finish.
        r = run_dpa(*GEN, "--out", str(out))
        assert r.returncode == 3 and "--resume" in r.stderr, r.stderr
    else:
        assert snapshot(out) == snapshot(ref)  # the new output, complete
    resume(args, out, capsys)
    assert_same_output(out, ref)


def test_kill_while_resuming_and_resume_again(tmp_path, ref, capsys) -> None:
    out = tmp_path / "params"
    killed((*GEN, "--out", str(out)), "checkpoint-written:2")
    killed((*GEN, "--out", str(out), "--resume"), "chunk-checked:1")
    killed((*GEN, "--out", str(out), "--resume"), "chunk-written:1")
    assert "resuming" in resume(GEN, out, capsys)[1]
    assert_same_output(out, ref)


def test_kill_while_an_overwrite_discards_another_run(tmp_path, ref, capsys) -> None:
    """--overwrite restarts over an interrupted run of other arguments; killed while deleting it, it still resumes."""
    out = tmp_path / "params"
    killed(("generate", "--preset", "aggressive", "-n", N, "--chunk-size", CHUNK, "--out", str(out)), "checkpoint-written:1")
    killed((*GEN, "--overwrite", "--out", str(out)), "file-removed:3")
    r = run_dpa(*GEN, "--out", str(out), "--resume")  # without --overwrite: another run's leftovers are not discarded
    assert r.returncode == 3 and "different" in r.stderr, r.stderr
    resume((*GEN, "--overwrite"), out, capsys)
    assert_same_output(out, ref)


def test_resume_with_nothing_to_resume_starts_from_scratch(tmp_path, ref, capsys) -> None:
    out = tmp_path / "params"
    assert "nothing to resume" in resume(GEN, out, capsys)[1]
    assert_same_output(out, ref)


def test_every_point_is_tested() -> None:
    tested = {p.split(":")[0] for p in FRESH_POINTS + OVERWRITE_POINTS} | {"chunk-checked"}
    assert tested == set(TEST_POINTS)


def test_an_unknown_point_is_refused(tmp_path) -> None:
    r = run_dpa(*GEN, "--out", str(tmp_path / "p"), env={"DPA_TEST_KILL_AT": "nowhere"})
    assert r.returncode == 2 and "unknown point 'nowhere'" in r.stderr


BIG = ("generate", "--preset", "mild", "-n", "600000", "--chunk-size", "20000", "--no-progress")  # about 0.5 s of work


@pytest.fixture(scope="module")
def big_ref(tmp_path_factory) -> Path:
    return reference(tmp_path_factory, BIG)


@pytest.mark.parametrize("seed", range(3))
def test_kill_at_a_random_time_then_resume(seed, tmp_path, big_ref, capsys) -> None:
    """SIGKILL after a random delay (the run may also have finished: either way --resume completes it)."""
    out = tmp_path / "params"
    proc = dpa_process(*BIG, "--out", str(out))
    time.sleep(random.Random(seed).uniform(0.2, 1.0))
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not os.path.lexists(out) or snapshot(out) == snapshot(big_ref)
    resume(BIG, out, capsys)
    assert_same_output(out, big_ref)
