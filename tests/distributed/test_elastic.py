"""Elastic torchrun for real: jobs killed mid-epoch resume from an ElasticCheckpoint with another world size.

Every test runs tests/distributed/elastic_worker.py under torchrun (gloo, CPU, localhost): ranks step
in lock-step and rank 0 commits each step's results with the checkpoint after it, atomically. Over the
epoch, the committed steps must hold every id exactly once (padding aside) with the params of a
single-process run, whatever was killed. Each takes about a minute on two cores: opt-in (--run-slow).
See docs/TRAINING.md ("Elastic torchrun") for the settings and what fails without them.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

import dpa
from tests.conftest import requires_torch

pytestmark = [requires_torch, pytest.mark.slow]

WORKER = pathlib.Path(__file__).with_name("elastic_worker.py")
SEED, EPOCH = 17, 2


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    # TORCH_DISABLE_SHARE_RDZV_TCP_STORE: without it the survivor's new workers can read the killed
    # round's gloo addresses from the agent's store and fail in connectFullMesh (docs/TRAINING.md).
    env.update({"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1",
                "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"})
    return env


def _launch(torchrun_args: list[str], out: pathlib.Path, name: str, worker_args: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", *torchrun_args, str(WORKER), str(out), *worker_args]
    log = open(out / f"{name}.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a torchrun agent and its workers (they run in sessions of their own): a lost node."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait()


def _commits(out: pathlib.Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("commit_*.json"))]


def _wait_for(out: pathlib.Path, what, procs: list[subprocess.Popen], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not what(_commits(out)):
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a torchrun exited early ({p.returncode}): {_tail(out)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; commits: {[c['world_size'] for c in _commits(out)]} {_tail(out)}")
        time.sleep(0.2)


def _tail(out: pathlib.Path) -> str:
    return " | ".join(f"{p.name}: {p.read_text()[-1500:]}" for p in sorted(out.glob("*.log")))


def _check_epoch(out: pathlib.Path, n: int) -> list[int]:
    """Every id exactly once, with single-process params; returns the world size of each commit."""
    commits = _commits(out)
    ids, rot = [], []
    for c in commits:
        for i, r, pad in zip(c["ids"], c["rotation"], c["padding"]):
            if not pad:
                ids.append(i)
                rot.append(r)
    assert sorted(ids) == list(range(n)), f"{len(ids)} ids, {len(set(ids))} distinct, of {n}"
    ref = dpa.gen_augmentation_batch(ids, dpa.get_preset("moderate"), seed=SEED, epoch=EPOCH)["rotation"].tolist()
    assert rot == ref
    return [c["world_size"] for c in commits]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_preempted_job_resumes_with_another_world_size(tmp_path) -> None:
    """The whole 4-rank job is killed (SIGKILL) mid-epoch; restarted with 3 ranks, it finishes the epoch."""
    n = 360
    first = _launch(["--standalone", "--nproc_per_node=4"], tmp_path, "first", ["0.3", str(n)])
    try:
        _wait_for(tmp_path, lambda cs: len(cs) >= 3, [first])
    finally:
        _kill_tree(first)
    second = _launch(["--standalone", "--nproc_per_node=3"], tmp_path, "second", ["0", str(n)])
    assert second.wait(timeout=300) == 0, _tail(tmp_path)
    worlds = _check_epoch(tmp_path, n)
    assert worlds[0] == 4 and worlds[-1] == 3


def test_two_agents_one_joins_then_is_killed_and_the_survivor_finishes(tmp_path) -> None:
    """torchrun --nnodes=1:2, c10d rendezvous on localhost, 2 workers per agent.

    Agent A starts alone (world 2); agent B joins (the group re-forms at world 4); B is killed with its
    workers mid-epoch; A re-forms the group at world 2 and finishes the epoch from the checkpoint.
    """
    n = 720
    port = _free_port()

    def agent(name: str, is_host: int) -> subprocess.Popen:
        return _launch(["--nnodes=1:2", "--nproc_per_node=2", "--rdzv-backend=c10d",
                        f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=dpa-elastic-test", "--max-restarts=3",
                        "--monitor-interval=0.5", "--local-addr=127.0.0.1",
                        f"--rdzv-conf=is_host={is_host},join_timeout=120,last_call_timeout=2,close_timeout=10"],
                       tmp_path, name, ["0.4", str(n)])

    a = agent("a", 1)
    b = None
    try:
        _wait_for(tmp_path, lambda cs: any(c["world_size"] == 2 for c in cs), [a])
        b = agent("b", 0)
        _wait_for(tmp_path, lambda cs: sum(c["world_size"] == 4 for c in cs) >= 2, [a, b])
        _kill_tree(b)
        assert a.wait(timeout=300) == 0, _tail(tmp_path)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                _kill_tree(p)
    worlds = _check_epoch(tmp_path, n)
    # world 2 (A alone), 4 (B joined), 2 again (B gone): the group re-formed twice
    changes = [w for k, w in enumerate(worlds) if k == 0 or w != worlds[k - 1]]
    assert changes == [2, 4, 2], worlds
