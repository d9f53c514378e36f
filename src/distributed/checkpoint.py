"""Elastic resumption: a small checkpoint that any number of ranks can resume from.

The rule. In strided mode, ranks that advance in lock-step (one sample each
per step, as synchronous data-parallel training does) have, after ``k``
steps, consumed exactly the global ids ``start .. start + k * W - 1``: a
prefix. A checkpoint therefore needs one number, ``consumed`` (the length of
that prefix), beside what identifies the stream (config fingerprint, seed,
epoch, number of samples). Resuming splits the remaining ids ``consumed ..
num_samples - 1`` over however many ranks there are now, so every remaining
sample is processed exactly once, with the same params as in an unbroken run
(params depend only on the id).

Only the strided mode has that property: contiguous ranks consume the start
of each rank's block, not a prefix of the ids, so a checkpoint records its
mode and a contiguous one is refused (resuming one processed some ids twice
and others never).

>>> import dpa
>>> from dpa.distributed import ElasticCheckpoint, DistributedRangeSplitter
>>> cfg = dpa.get_preset("mild")
>>> ck = ElasticCheckpoint.from_progress(cfg, num_samples=100, world_size=4, steps=10)
>>> ck.consumed
40
>>> DistributedRangeSplitter(100, 3, start=ck.consumed).indices(0)[:3].tolist()
[40, 43, 46]
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from dpa.config import AugmentationConfig
from dpa.keys import check_epoch, check_seed
from dpa import validate
from dpa.validate import integer, load_json
from dpa.version import STREAM_VERSION

__all__ = ["ElasticCheckpoint"]


@dataclass(frozen=True)
class ElasticCheckpoint:
    """Where an epoch stopped: ids ``0 .. consumed - 1`` are done.

    Attributes:
        epoch, seed: of the interrupted stream.
        consumed: how many ids, from id 0, were processed.
        num_samples: the stream's length.
        fingerprint: the config's :meth:`~dpa.AugmentationConfig.fingerprint`.
        stream_version: ``dpa.STREAM_VERSION`` when it was made.
        mode: the split mode, ``"strided"`` (the only one whose progress is a prefix).
    """

    epoch: int
    consumed: int
    num_samples: int
    fingerprint: str
    seed: int = 0
    stream_version: int = STREAM_VERSION
    mode: str = "strided"

    def __post_init__(self) -> None:
        _check_mode(self.mode)
        check_epoch(self.epoch)
        check_seed(self.seed)
        object.__setattr__(self, "num_samples", validate.num_samples(self.num_samples, allow_inf=False))
        object.__setattr__(self, "consumed", integer(self.consumed, "consumed", 0))
        object.__setattr__(self, "stream_version", integer(self.stream_version, "stream_version", 1))
        if not isinstance(self.fingerprint, str):
            raise TypeError(
                f"fingerprint must be a str (AugmentationConfig.fingerprint()); got {self.fingerprint!r} "
                f"of type {type(self.fingerprint).__name__}"
            )
        if self.consumed > self.num_samples:
            raise ValueError(f"consumed must be in [0, num_samples={self.num_samples}]; got {self.consumed}")

    @classmethod
    def from_progress(
        cls,
        config: AugmentationConfig,
        num_samples: int,
        world_size: int,
        steps: int,
        seed: int = 0,
        epoch: int = 0,
        start: int = 0,
        mode: str = "strided",
    ) -> "ElasticCheckpoint":
        """The checkpoint after every one of ``world_size`` strided ranks took ``steps`` samples from ``start``.

        ``start`` is where this run began (the ``consumed`` of the checkpoint
        it resumed from, else 0). ``mode`` is the run's split mode; only
        ``"strided"`` can be checkpointed this way.

        Raises:
            ValueError: ``mode`` is not ``"strided"``, ``steps < 0``, ``world_size``
                outside ``[1, 2**64)``, ``start`` outside ``[0, num_samples]``.
            TypeError: any of the numbers is not an integer.

        ``steps`` past the end of a rank's share count as the whole share, so
        ``steps = chunks * chunk_size`` works when the last chunk is short:
        the checkpoint then says the epoch is done.
        """
        _check_mode(mode)
        num_samples = validate.num_samples(num_samples, allow_inf=False)
        world_size = integer(world_size, "world_size", 1, validate.MAX_U64, text="in [1, 2**64)")
        start = validate.start(start, num_samples)
        steps = integer(steps, "steps", 0)
        consumed = min(start + steps * world_size, num_samples)
        return cls(epoch=epoch, consumed=consumed, num_samples=num_samples, fingerprint=config.fingerprint(), seed=seed)

    def check(
        self, config: AugmentationConfig, seed: int, epoch: int, num_samples: int, mode: str = "strided"
    ) -> int:
        """Return ``consumed`` if this checkpoint belongs to the given stream, else raise ValueError naming what differs.

        ``mode`` is the split mode of the stream resuming it: only ``"strided"``.
        """
        _check_mode(mode)
        mismatches = []
        if self.fingerprint != config.fingerprint():
            mismatches.append(f"config fingerprint {self.fingerprint} != {config.fingerprint()}")
        if self.seed != seed:
            mismatches.append(f"seed {self.seed} != {seed}")
        if self.epoch != epoch:
            mismatches.append(f"epoch {self.epoch} != {epoch}")
        if self.num_samples != num_samples:
            mismatches.append(f"num_samples {self.num_samples} != {num_samples}")
        if self.stream_version != STREAM_VERSION:
            mismatches.append(f"stream_version {self.stream_version} != {STREAM_VERSION}")
        if mismatches:
            raise ValueError("checkpoint does not match this stream: " + "; ".join(mismatches))
        return self.consumed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ElasticCheckpoint":
        if not isinstance(data, dict):
            raise TypeError(f"a checkpoint must be a dict; got {type(data).__name__}")
        known = {"epoch", "consumed", "num_samples", "fingerprint", "seed", "stream_version", "mode"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown checkpoint field(s) {unknown}; valid: {sorted(known)}")
        missing = [f for f in ("epoch", "consumed", "num_samples", "fingerprint") if f not in data]
        if missing:
            raise ValueError(f"checkpoint is missing field(s) {missing}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "ElasticCheckpoint":
        """Parse :meth:`to_json`'s output; a field given twice is refused (ValueError), not resolved to the last."""
        return cls.from_dict(load_json(text, "checkpoint"))


def _check_mode(mode: str) -> None:
    if mode != "strided":
        raise ValueError(
            f"an ElasticCheckpoint needs mode='strided'; got mode={mode!r}: contiguous ranks consume the start of "
            f"each rank's block, not a prefix of the ids, so 'consumed' cannot describe their progress (resuming "
            f"would process some ids twice and others never). Split with mode='strided' to resume elastically."
        )
