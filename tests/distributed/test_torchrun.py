"""Multi-rank behaviour with real processes: torchrun, gloo backend, CPU."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

import dpa
from tests.conftest import requires_torch

WORKER = pathlib.Path(__file__).with_name("torchrun_worker.py")
N, SEED, EPOCH = 10_007, 11, 4


# gloo's full-mesh connect can time out between ranks on a loaded machine
# ("connectFullMesh ... Connection closed by peer"): the process group never
# forms and no dpa code has run. Such a start is tried again; any other
# failure is the test's.
_GLOO_START_FAILURES = ("connectFullMesh", "Connection closed by peer", "Connection refused")


def torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(WORKER), *args]
    for _ in range(3):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env())
        if r.returncode == 0 or not any(text in r.stderr for text in _GLOO_START_FAILURES):
            return r
    return r


def _env() -> dict:
    import os

    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"})
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(key, None)
    return env


pytestmark = requires_torch


def test_three_ranks_cover_the_dataset_with_single_process_values(tmp_path) -> None:
    r = torchrun(3, "--mode", "share", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (tmp_path / "share.json").read_text() == '{"world_size": 3, "ids": 10007}'


def test_a_mismatched_seed_is_caught_on_every_rank(tmp_path) -> None:
    r = torchrun(3, "--mode", "mismatch", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    messages = [(tmp_path / f"mismatch_rank{k}.txt").read_text() for k in range(3)]
    assert len(set(messages)) == 1  # every rank says the same thing
    assert "seed: ranks [0, 2] have 11; ranks [1] have 12" in messages[0]


def test_resume_with_4_then_3_ranks_processes_every_sample_once(tmp_path) -> None:
    steps = 1000
    r = torchrun(4, "--mode", "resume-a", "--out", str(tmp_path), "--steps", str(steps))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = torchrun(3, "--mode", "resume-b", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ids, rot = [], []
    for name in [f"a_rank{k}" for k in range(4)] + [f"b_rank{k}" for k in range(3)]:
        data = np.load(tmp_path / f"{name}.npz")
        ids.append(data["ids"])
        rot.append(data["rotation"])
    ids, rot = np.concatenate(ids), np.concatenate(rot)
    assert len(ids) == N and sorted(ids.tolist()) == list(range(N))  # exactly once
    ref = dpa.gen_augmentation_batch(ids, dpa.get_preset("moderate"), seed=SEED, epoch=EPOCH)["rotation"]
    np.testing.assert_array_equal(rot, ref)
    first = np.concatenate([np.load(tmp_path / f"a_rank{k}.npz")["ids"] for k in range(4)])
    assert sorted(first.tolist()) == list(range(4 * steps))
