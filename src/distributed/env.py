"""Rank discovery: the one place that reads torch.distributed or the environment.

Order: an initialised ``torch.distributed`` process group, else torchrun's
environment variables (``RANK``, ``WORLD_SIZE``), else a single process
``(0, 1)``. torch is consulted only if the program has already imported it,
so importing :mod:`dpa.distributed` never imports torch.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping

from dpa.distributed.splitter import check_rank

__all__ = ["get_rank_world_size", "resolve_rank", "dist_is_initialized"]


def dist_is_initialized() -> bool:
    """True when torch is imported and a default process group exists."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    dist = getattr(torch, "distributed", None)
    return bool(dist is not None and dist.is_available() and dist.is_initialized())


def _env_int(env: Mapping[str, str], name: str) -> int:
    text = env[name]
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer; got {text!r}") from None


def get_rank_world_size(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(rank, world_size)`` of this process (see the module docstring for the order).

    Raises:
        ValueError: ``RANK``/``WORLD_SIZE`` set to something that is not a
            valid rank (or only one of them set).
    """
    if dist_is_initialized():
        dist = sys.modules["torch"].distributed
        return dist.get_rank(), dist.get_world_size()
    env = os.environ if env is None else env
    has_rank, has_world = "RANK" in env, "WORLD_SIZE" in env
    if has_rank and has_world:
        return check_rank(_env_int(env, "RANK"), _env_int(env, "WORLD_SIZE"))
    if has_rank or has_world:
        missing = "WORLD_SIZE" if has_rank else "RANK"
        raise ValueError(f"RANK and WORLD_SIZE must be set together; {missing} is missing from the environment")
    return 0, 1


def resolve_rank(rank: Any, world_size: Any) -> tuple[int, int]:
    """Validate explicit ``rank``/``world_size``, filling in any that is None from :func:`get_rank_world_size`."""
    if rank is None or world_size is None:
        found_rank, found_world = get_rank_world_size()
        rank = found_rank if rank is None else rank
        world_size = found_world if world_size is None else world_size
    return check_rank(rank, world_size)
