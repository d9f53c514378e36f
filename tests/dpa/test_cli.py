"""The dpa command line, run as a user runs it (a real subprocess where it matters)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import dpa
from dpa.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dpa.cli", *args], capture_output=True, text=True)


def test_generate_then_verify(tmp_path) -> None:
    out = tmp_path / "params"
    r = run_cli("generate", "--preset", "moderate", "--num-samples", "5000", "--seed", "7", "--epoch", "2",
                "--start", "100", "--chunk-size", "1234", "--out", str(out))
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "metadata.json").read_text())
    cfg = dpa.get_preset("moderate")
    assert meta["fingerprint"] == cfg.fingerprint() and meta["stream_version"] == dpa.STREAM_VERSION
    assert (meta["seed"], meta["epoch"], meta["start"], meta["num_samples"]) == (7, 2, 100, 5000)
    assert meta["dpa_version"] == dpa.__version__
    ref = dpa.gen_augmentation_batch(range(100, 5100), cfg, seed=7, epoch=2)
    assert set(meta["outputs"]) == set(ref)
    for name, arr in ref.items():
        np.testing.assert_array_equal(np.load(out / f"{name}.npy"), arr)
    assert not (tmp_path / "params.partial").exists()
    r = run_cli("verify", str(out))
    assert r.returncode == 0 and "OK" in r.stdout


def test_verify_names_the_first_difference(tmp_path) -> None:
    out = tmp_path / "p"
    assert main(["generate", "--preset", "mild", "-n", "300", "--out", str(out), "--no-progress"]) == 0
    arr = np.load(out / "rotation.npy")
    arr[123] = np.nextafter(arr[123], 100)
    np.save(out / "rotation.npy", arr)
    r = run_cli("verify", str(out))
    assert r.returncode == 1
    assert "rotation differs at sample id 123" in r.stderr


def test_generate_refuses_to_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "p"
    assert main(["generate", "--preset", "mild", "-n", "10", "--out", str(out), "--no-progress"]) == 0
    before = (out / "hue.npy").read_bytes()
    assert main(["generate", "--preset", "aggressive", "-n", "10", "--out", str(out), "--no-progress"]) == 3
    assert "already exists" in capsys.readouterr().err
    assert (out / "hue.npy").read_bytes() == before
    assert main(["generate", "--preset", "aggressive", "-n", "10", "--out", str(out), "--overwrite", "--no-progress"]) == 0
    assert json.loads((out / "metadata.json").read_text())["fingerprint"] == dpa.get_preset("aggressive").fingerprint()


def test_generate_from_a_config_file(tmp_path) -> None:
    cfg = dpa.AugmentationConfig({"angle": {"kind": "uniform", "low": -1, "high": 1}})
    cfg.save(tmp_path / "cfg.json")
    out = tmp_path / "p"
    assert main(["generate", "--config", str(tmp_path / "cfg.json"), "-n", "50", "--out", str(out), "--no-progress"]) == 0
    np.testing.assert_array_equal(np.load(out / "angle.npy"), dpa.gen_augmentation_batch(range(50), cfg)["angle"])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "--preset", "extreme", "-n", "1", "--out", "x"], "invalid choice: 'extreme'"),
        (["generate", "--preset", "mild", "-n", "-1", "--out", "x"], "--num-samples must be in [0, 2**64); got -1"),
        (["generate", "--preset", "mild", "-n", "1", "--seed", "-2", "--out", "x"], "--seed must be in [0, 2**64)"),
        (["generate", "--preset", "mild", "-n", "1", "--epoch", str(2**32), "--out", "x"], "--epoch must be in [0, 2**32)"),
        (["generate", "--preset", "mild", "-n", "abc", "--out", "x"], "--num-samples must be an integer"),
        (["generate", "--preset", "mild", "-n", "2", "--start", str(2**64 - 1), "--out", "x"], "must be < 2**64"),
        (["generate", "-n", "1", "--out", "x"], "one of the arguments --preset --config is required"),
    ],
)
def test_generate_bad_input(args, fragment, tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "dpa.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert fragment in r.stderr
    assert not (tmp_path / "x").exists()


def test_malformed_config_file(tmp_path) -> None:
    (tmp_path / "bad.json").write_text('{"a": {"kind": "uniform", "low": 0')
    r = run_cli("generate", "--config", str(tmp_path / "bad.json"), "-n", "1", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "bad.json: config is not valid JSON" in r.stderr


def test_inspect(capsys) -> None:
    assert main(["inspect", "--preset", "aggressive", "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "rotation" in out and "erasing" in out and dpa.get_preset("aggressive").fingerprint() in out
    assert main(["inspect", "--preset", "mild", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == dpa.get_preset("mild").to_dict()


def test_inspect_rows_past_the_last_id_say_so(capsys) -> None:
    # ids stop at 2**64 - 1: fewer rows than asked are shown, and the title says why
    assert main(["inspect", "--preset", "mild", "--rows", "3", "--start", str(2**64 - 2)]) == 0
    out = capsys.readouterr().out
    assert "only 2 of 3 rows" in out and str(2**64 - 1) in out


def test_verify_of_a_missing_or_partial_directory(tmp_path) -> None:
    r = run_cli("verify", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "not a finished dpa output directory" in r.stderr


def test_resume_with_other_arguments_is_refused(tmp_path) -> None:
    out = tmp_path / "p"
    partial = tmp_path / "p.partial"
    from dpa.store import write_params

    calls = []

    def stop_after_first(done: int) -> None:
        calls.append(done)
        if done >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_params(out, dpa.get_preset("mild"), 1000, chunk_size=100, progress=stop_after_first)
    assert partial.exists()
    with pytest.raises(ValueError, match="different seed"):
        write_params(out, dpa.get_preset("mild"), 1000, seed=1, resume=True)
    write_params(out, dpa.get_preset("mild"), 1000, chunk_size=100, resume=True)
    assert not partial.exists()


def test_ranges(capsys) -> None:
    assert main(["ranges", "-n", "10", "-w", "3", "--pad", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] and [r["samples"] for r in data["ranks"]] == [4, 4, 4]
    assert [r["padding"] for r in data["ranks"]] == [0, 1, 1]
    assert data["ranks"][2]["first_ids"] == [2, 5, 8]
    assert main(["ranges", "-n", "10", "-w", "3", "--mode", "contiguous"]) == 0
    assert "[0, 4)" in capsys.readouterr().out
    r = run_cli("ranges", "-n", "10", "-w", "0")
    assert r.returncode == 2 and "--world-size must be >= 1; got 0" in r.stderr
    r = run_cli("ranges", "-n", "10", "-w", "2", "--pad", "--drop-last")
    assert r.returncode == 2 and "not allowed with argument" in r.stderr


def _peak_rss(pid: int) -> int:
    """The process's peak resident set size so far (the kernel's VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak RSS from Linux's /proc")
def test_generate_and_verify_memory_stays_flat(tmp_path) -> None:
    """3M moderate samples (555 MB of files) in chunks of 100k: neither command holds more than a few chunks.

    generate is stopped (test hook) once every value is written, and its peak
    RSS read from the kernel; verify, which used to map every file (RSS as
    large as the output), is sampled with psutil while it runs.
    """
    import psutil

    out = tmp_path / "p"
    env = dict(os.environ, DPA_TEST_STOP_AT="files-ready,data-synced")
    proc = subprocess.Popen([sys.executable, "-m", "dpa.cli", "generate", "--preset", "moderate", "-n", "3000000",
                             "--chunk-size", "100000", "--out", str(out), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stops = []
    for _ in range(2):
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        stops.append((psutil.Process(proc.pid).memory_info().rss, _peak_rss(proc.pid)))
        os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait() == 0, proc.stderr.read()
    (ready_rss, _), (_, peak) = stops
    size = sum(f.stat().st_size for f in out.iterdir())
    assert size > 550e6
    # Writing 555 MB added at most a few 100k-sample chunks (18.5 MB each) to what the set-up held.
    assert peak - ready_rss < 100 * 2**20, (ready_rss >> 20, peak >> 20)

    proc = subprocess.Popen([sys.executable, "-m", "dpa.cli", "verify", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    readings = []
    while proc.poll() is None:
        try:
            readings.append(ps.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.005)
    assert proc.returncode == 0, proc.stderr.read()
    assert readings
    assert max(readings) < min(200 * 2**20, size * 0.3), [r >> 20 for r in readings[::10]]


def test_tables_are_whole_when_piped() -> None:
    """Piped (not a terminal), tables keep every column and cell instead of being cut at 80 columns."""
    r = run_cli("inspect", "--preset", "aggressive", "--rows", "12")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) > 120 and "…" not in r.stdout
    assert all(str(i) in r.stdout for i in range(12))
    r = run_cli("ranges", "-n", str(2**64 - 1), "-w", "7", "--mode", "contiguous")
    assert r.returncode == 0 and "…" not in r.stdout and "18446744073709551615)" in r.stdout
    assert "DistributedRangeSplitter(num_samples=18446744073709551615, world_size=7, mode='contiguous'" in r.stdout


def test_zero_samples_say_so(tmp_path, capsys) -> None:
    assert main(["generate", "--preset", "mild", "-n", "0", "--out", str(tmp_path / "p"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "0 samples" in out and "an empty id range" in out and "0..0" not in out and "0..-1" not in out
    assert main(["verify", str(tmp_path / "p")]) == 0


def test_chunk_size_one_is_not_slow_per_chunk(tmp_path) -> None:
    """--chunk-size 1 records progress on a size/time cadence (4 MiB or 1 s), not after each of its 5,000 chunks."""
    out = tmp_path / "p"
    r = subprocess.run([sys.executable, "-m", "dpa.cli", "generate", "--preset", "moderate", "-n", "5000", "--chunk-size",
                        "1", "--out", str(out), "--no-progress"], capture_output=True, text=True,
                       env=dict(os.environ, DPA_TEST_KILL_AT="checkpoint-written:1000"))
    assert r.returncode == 0, r.stderr  # not killed: fewer than 1,000 checkpoints for 5,000 chunks
    ref = tmp_path / "ref"
    assert main(["generate", "--preset", "moderate", "-n", "5000", "--out", str(ref), "--no-progress"]) == 0
    for f in ref.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes()


def test_version_names_the_stream_version_and_the_kernel() -> None:
    import os

    done = run_cli("--version")
    assert done.returncode == 0
    assert f"dpa {dpa.__version__} (stream version {dpa.STREAM_VERSION}, " in done.stdout
    expected = "compiled kernel" if dpa.prng.compiled_kernel() is not None else "numpy kernel"
    assert expected in done.stdout
    env = dict(os.environ, DPA_DISABLE_CKERNEL="1")
    off = subprocess.run([sys.executable, "-m", "dpa.cli", "--version"], capture_output=True, text=True, env=env)
    assert "numpy kernel, no compiled one" in off.stdout
