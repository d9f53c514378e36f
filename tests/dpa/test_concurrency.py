"""No hidden global state: threads, forked and spawned processes give single-thread values."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dpa

CFG = dpa.get_preset("aggressive")
IDS = [(i * 0x9E3779B97F4A7C15) % 2**64 for i in range(4000)]


def work(part: int) -> dict[str, list]:
    """Interleave scalar, batch and stream calls for one share of the ids (and other seeds between them)."""
    mine = IDS[part::8]
    scalar = [dpa.gen_augmentation_params(i, CFG, seed=3, epoch=1)["rotation"] for i in mine]
    dpa.gen_augmentation_batch(mine, dpa.get_preset("mild"), seed=part)  # unrelated work in between
    batch = dpa.gen_augmentation_batch(mine, CFG, seed=3, epoch=1)["rotation"].tolist()
    stream = [c.params["scale"].tolist() for c in dpa.stream_augmentation_chunks(300, CFG, seed=3, epoch=1, chunk_size=37)]
    return {"scalar": scalar, "batch": batch, "stream": sum(stream, [])}


def reference() -> list[dict[str, list]]:
    return [work(p) for p in range(8)]


def test_eight_threads_at_once() -> None:
    ref = reference()
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(work, range(8)))
    assert got == ref
    assert all(r["scalar"] == r["batch"] for r in got)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes(method: str) -> None:
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    ref = reference()
    dpa.gen_augmentation_batch(range(10), CFG)  # warm the parent's caches before forking
    with mp.get_context(method).Pool(3) as pool:
        got = pool.map(work, range(8))
    assert got == ref


def test_stream_resumed_in_a_new_process_gives_exactly_the_remainder(tmp_path) -> None:
    """A process streams, records its position, and is killed; a new one resumes from the record."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "seen.jsonl"
    code = (
        "import dpa, json, sys\n"
        "cfg = dpa.get_preset('moderate')\n"
        "start = int(sys.argv[2])\n"
        "with open(sys.argv[1], 'a') as fh:\n"
        "    for c in dpa.stream_augmentation_chunks(200_000, cfg, seed=5, chunk_size=1000, start=start):\n"
        "        fh.write(json.dumps([int(c.sample_ids[0]), int(c.sample_ids[-1]), c.params['rotation'].tolist()]) + '\\n')\n"
        "        fh.flush()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(log), "0"])
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or log.read_text().count("\n") < 20):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lines = []
    for line in log.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # the line being written when the process died
            break
    resume_at = lines[-1][1] + 1 if lines else 0  # the last complete record is the checkpoint
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    subprocess.run([sys.executable, "-c", code, str(log), str(resume_at)], check=True, timeout=300)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    firsts = [r[0] for r in records]
    assert firsts == list(range(0, 200_000, 1000)), "every chunk exactly once, in order"
    rotation = np.concatenate([np.array(r[2]) for r in records])
    np.testing.assert_array_equal(rotation, dpa.gen_augmentation_batch(range(200_000), dpa.get_preset("moderate"), seed=5)["rotation"])


@pytest.mark.slow
def test_soak_stream_1e8_samples_constant_memory() -> None:
    """Opt-in (--run-slow): 10**8 samples of `moderate` streamed; RSS growth after the first 10**6 is reported and bounded."""
    import psutil

    proc = psutil.Process()
    first = None
    peak = 0
    seen = 0
    for chunk in dpa.stream_augmentation_chunks(10**8, dpa.get_preset("moderate"), chunk_size=100_000):
        seen += len(chunk)
        rss = proc.memory_info().rss
        if seen == 1_000_000:
            first = rss
        peak = max(peak, rss)
    growth = (peak - first) / 2**20
    print(f"streamed {seen} samples; RSS growth after the first million: {growth:.1f} MiB")
    assert seen == 10**8 and growth < 16
