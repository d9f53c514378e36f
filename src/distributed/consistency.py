"""assert_consistent_across_ranks: catch ranks that disagree on config, seed or epoch.

Ranks that build their augmentation config from different files or flags
train on silently different data. With ``torch.distributed`` initialised,
every rank gathers every rank's (fingerprint, seed, epoch) and, if any
differ, every rank raises the same error naming who disagrees on what.
"""

from __future__ import annotations

import sys
from typing import Any

from dpa.distributed.env import dist_is_initialized, get_rank_world_size

__all__ = ["assert_consistent_across_ranks", "RankMismatchError"]


class RankMismatchError(ValueError):
    """Ranks disagree on the config fingerprint, seed or epoch."""


def _describe(field: str, values: list[Any]) -> str:
    groups: dict[Any, list[int]] = {}
    for rank, value in enumerate(values):
        groups.setdefault(value, []).append(rank)
    parts = [f"ranks {ranks} have {value!r}" for value, ranks in groups.items()]
    return f"{field}: " + "; ".join(parts)


def assert_consistent_across_ranks(config: Any, seed: int = 0, epoch: int = 0) -> None:
    """Raise :class:`RankMismatchError` on every rank if any rank's config, seed or epoch differs.

    A collective call: every rank of the default process group must call it.
    Without an initialised process group it checks nothing when this is a
    single process, and raises RuntimeError when torchrun's environment says
    there are several (the ranks cannot talk to each other yet).
    """
    from dpa.generate import generator_for
    from dpa.keys import check_epoch

    gen = generator_for(config, seed)  # validates all three the same way on every rank
    mine = (gen.config.fingerprint(), gen.seed, check_epoch(epoch))
    if not dist_is_initialized():
        _, world = get_rank_world_size()
        if world > 1:
            raise RuntimeError(
                "assert_consistent_across_ranks needs torch.distributed.init_process_group() when WORLD_SIZE > 1"
            )
        return
    dist = sys.modules["torch"].distributed
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    problems = []
    for index, field in enumerate(("config fingerprint", "seed", "epoch")):
        values = [g[index] for g in gathered]
        if len(set(values)) > 1:
            problems.append(_describe(field, values))
    if problems:
        raise RankMismatchError("ranks disagree on " + " | ".join(problems))
