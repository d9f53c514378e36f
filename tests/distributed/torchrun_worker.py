"""A worker launched by tests/distributed/test_torchrun.py under torchrun (gloo, CPU).

    python -m torch.distributed.run --standalone --nproc_per_node=N torchrun_worker.py --mode MODE --out DIR

Modes: ``share`` (stream this rank's share, gather on rank 0, check coverage
and equality with a single-process run), ``mismatch`` (rank 1 uses another
seed; every rank must raise RankMismatchError), ``resume-a`` / ``resume-b``
(consume some steps and checkpoint; resume from the checkpoint with another
world size). Results go to files in DIR; the exit code says pass/fail.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np
import torch.distributed as dist

import dpa
from dpa.distributed import (
    ElasticCheckpoint,
    RankMismatchError,
    assert_consistent_across_ranks,
    get_rank_world_size,
    stream_distributed_augmentation_chunks,
)

N = 10_007
CFG = dpa.get_preset("moderate")
SEED, EPOCH = 11, 4


def share(out: pathlib.Path) -> int:
    rank, world = get_rank_world_size()  # from the initialised process group
    assert_consistent_across_ranks(CFG, SEED, EPOCH)
    mine = {"ids": [], "params": {}}
    for chunk in stream_distributed_augmentation_chunks(N, None, None, CFG, seed=SEED, epoch=EPOCH, chunk_size=999):
        mine["ids"].append(chunk.sample_ids)
        for name, arr in chunk.params.items():
            mine["params"].setdefault(name, []).append(arr)
    mine = {"ids": np.concatenate(mine["ids"]), "params": {k: np.concatenate(v) for k, v in mine["params"].items()}}
    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        ids = np.concatenate([g["ids"] for g in gathered])
        order = np.argsort(ids)
        assert ids[order].tolist() == list(range(N)), "coverage: every id exactly once"
        ref = dpa.gen_augmentation_batch(range(N), CFG, seed=SEED, epoch=EPOCH)
        for name, arr in ref.items():
            got = np.concatenate([g["params"][name] for g in gathered])[order]
            assert np.array_equal(got, arr), f"{name} differs from the single-process run"
        (out / "share.json").write_text(json.dumps({"world_size": world, "ids": int(len(ids))}))
    return 0


def mismatch(out: pathlib.Path) -> int:
    rank, _ = get_rank_world_size()
    seed = SEED + 1 if rank == 1 else SEED
    try:
        assert_consistent_across_ranks(CFG, seed, EPOCH)
    except RankMismatchError as exc:
        (out / f"mismatch_rank{rank}.txt").write_text(str(exc))
        return 0
    return 1


def resume_a(out: pathlib.Path, steps: int) -> int:
    rank, world = get_rank_world_size()
    chunk = next(stream_distributed_augmentation_chunks(N, rank, world, CFG, seed=SEED, epoch=EPOCH, chunk_size=steps))
    np.savez(out / f"a_rank{rank}.npz", ids=chunk.sample_ids, rotation=chunk.params["rotation"])
    dist.barrier()  # every rank has taken `steps` samples: the job "dies" here
    if rank == 0:
        ck = ElasticCheckpoint.from_progress(CFG, N, world, steps, seed=SEED, epoch=EPOCH)
        (out / "checkpoint.json").write_text(ck.to_json())
    return 0


def resume_b(out: pathlib.Path) -> int:
    rank, world = get_rank_world_size()
    ck = ElasticCheckpoint.from_json((out / "checkpoint.json").read_text())
    ids, rot = [], []
    for chunk in stream_distributed_augmentation_chunks(N, rank, world, CFG, seed=SEED, epoch=EPOCH, checkpoint=ck):
        ids.append(chunk.sample_ids)
        rot.append(chunk.params["rotation"])
    np.savez(out / f"b_rank{rank}.npz", ids=np.concatenate(ids), rotation=np.concatenate(rot))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=["share", "mismatch", "resume-a", "resume-b"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    dist.init_process_group("gloo")
    try:
        if args.mode == "share":
            return share(out)
        if args.mode == "mismatch":
            return mismatch(out)
        if args.mode == "resume-a":
            return resume_a(out, args.steps)
        return resume_b(out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
