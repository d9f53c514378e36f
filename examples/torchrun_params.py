"""Per-rank augmentation parameters in a torchrun job (CPU, gloo), with elastic resumption.

Run:
    torchrun --nproc_per_node=4 examples/torchrun_params.py --num-samples 100000
    # "crash" after 50 steps, then resume the same epoch with 3 ranks:
    torchrun --nproc_per_node=4 examples/torchrun_params.py --num-samples 100000 --stop-after 50
    torchrun --nproc_per_node=3 examples/torchrun_params.py --num-samples 100000 --resume checkpoint.json

Each rank streams its own share of the sample ids (rank r takes r, r + W, ...,
like DistributedSampler), with parameters that depend only on the ids: the
union over ranks is exactly a single-process run, whatever the world size.
"""

from __future__ import annotations

import argparse
import pathlib

import torch.distributed as dist

import dpa
from dpa.distributed import (
    ElasticCheckpoint,
    assert_consistent_across_ranks,
    get_rank_world_size,
    stream_distributed_augmentation_chunks,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-samples", type=int, default=100_000)
    ap.add_argument("--preset", default="moderate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epoch", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--stop-after", type=int, default=None, help="simulate a failure after this many steps")
    ap.add_argument("--resume", default=None, help="checkpoint JSON written by an interrupted run")
    ap.add_argument("--checkpoint", default="checkpoint.json")
    args = ap.parse_args()

    dist.init_process_group("gloo")
    rank, world = get_rank_world_size()
    config = dpa.get_preset(args.preset)
    # Every rank must use the same config, seed and epoch: fail loudly if not.
    assert_consistent_across_ranks(config, args.seed, args.epoch)

    checkpoint = ElasticCheckpoint.from_json(pathlib.Path(args.resume).read_text()) if args.resume else None
    start = checkpoint.consumed if checkpoint else 0
    stream = stream_distributed_augmentation_chunks(
        args.num_samples, rank, world, config, seed=args.seed, epoch=args.epoch,
        chunk_size=args.batch_size, checkpoint=checkpoint,
    )
    steps, samples, rotation_sum = 0, 0, 0.0
    for batch in stream:
        # A training step would apply batch.params to its images here.
        rotation_sum += float(batch.params["rotation"].sum())
        samples += len(batch)
        steps += 1
        if args.stop_after is not None and steps == args.stop_after:
            break
    if args.stop_after is not None:
        dist.barrier()
        if rank == 0:
            ck = ElasticCheckpoint.from_progress(
                config, args.num_samples, world, steps * args.batch_size, seed=args.seed, epoch=args.epoch, start=start
            )
            pathlib.Path(args.checkpoint).write_text(ck.to_json())
            print(f"stopped after {steps} steps; {ck.consumed} samples consumed; checkpoint in {args.checkpoint}")
    print(f"rank {rank}/{world}: {samples} samples, first id {start + rank}, mean rotation {rotation_sum / max(samples, 1):+.3f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
