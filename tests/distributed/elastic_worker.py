"""A training-style worker for tests/distributed/test_elastic.py, run under torchrun (gloo, CPU).

    torchrun ... elastic_worker.py OUT_DIR [STEP_SECONDS [NUM_SAMPLES]]

Each rank streams its strided share of the epoch (``pad=True``), B samples a
step, in lock-step with the others; after every step rank 0 gathers what
every rank processed and commits it, with the ``ElasticCheckpoint`` of the
progress so far, in one file written atomically (``commit_<consumed>.json``).
A step counts once its commit exists: a rank killed before that leaves the
step to be done again. On (re)start, every rank resumes from the newest
commit, whatever the world size now. Killing a whole job or a whole agent at
any instant therefore loses nothing and repeats nothing, which is what the
test checks.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

import torch.distributed as dist

import dpa
from dpa.distributed import ElasticCheckpoint, get_rank_world_size, stream_distributed_augmentation_chunks

SEED, EPOCH, B = 17, 2, 6
CFG = dpa.get_preset("moderate")


def latest(out: pathlib.Path) -> ElasticCheckpoint | None:
    commits = sorted(out.glob("commit_*.json"))
    return ElasticCheckpoint.from_json(json.loads(commits[-1].read_text())["checkpoint"]) if commits else None


def commit(out: pathlib.Path, ck: ElasticCheckpoint, gathered: list, world: int) -> None:
    """Write the step's results and the checkpoint after it, in one file, atomically."""
    record = {
        "checkpoint": ck.to_json(),
        "world_size": world,
        "restart": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")),
        "ids": [i for g in gathered for i in g[0]],
        "rotation": [r for g in gathered for r in g[1]],
        "padding": [p for g in gathered for p in g[2]],
    }
    tmp = out / f".commit_{ck.consumed:06d}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, out / f"commit_{ck.consumed:06d}.json")


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    step_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 360
    dist.init_process_group("gloo")
    rank, world = get_rank_world_size()
    ck = latest(out)
    start = ck.consumed if ck is not None else 0
    stream = stream_distributed_augmentation_chunks(
        n, rank, world, CFG, seed=SEED, epoch=EPOCH, chunk_size=B, pad=True, checkpoint=ck
    )
    for step, chunk in enumerate(stream, start=1):
        time.sleep(step_seconds)  # the training step
        mine = (chunk.sample_ids.tolist(), chunk.params["rotation"].tolist(), chunk.padding.tolist())
        gathered: list = [None] * world
        dist.all_gather_object(gathered, mine)  # lock-step: every rank finished this step
        if rank == 0:
            commit(out, ElasticCheckpoint.from_progress(CFG, n, world, step * B, seed=SEED, epoch=EPOCH, start=start),
                   gathered, world)
        dist.barrier()  # nobody runs ahead of the commit
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
