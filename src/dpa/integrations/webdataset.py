"""dpa.integrations.webdataset: deterministic params for WebDataset samples, keyed by their ``__key__``.

A WebDataset sample's stable name is its ``__key__`` (the tar member's name
without extension, e.g. ``"n01440764_10026"``): :class:`ParamsStage` maps
it to a sample id with :func:`dpa.sample_id_from_key`, so a sample keeps its
params whichever shard, worker, node or position it comes from::

    import webdataset as wds
    import dpa
    from dpa.integrations.webdataset import ParamsStage

    params = ParamsStage(dpa.get_preset("moderate"), seed=0)
    train = wds.WebDataset(urls, shardshuffle=False).decode("torchrgb").compose(params)
    loader = wds.WebLoader(train, batch_size=64, num_workers=4, persistent_workers=True)
    for epoch in range(10):
        params.set_epoch(epoch)              # reaches persistent workers; never splits a pass
        for batch in loader: ...             # batch["params"]: each sample's params

The stage runs once per pass in each worker and fixes the pass's epoch
when it starts (:meth:`dpa.epochs.SharedEpoch.pass_epoch`): every sample of
a pass, in every worker, gets the same epoch. Keys must be unique across the
whole dataset (the usual case); when the same key repeats in several shards,
``key=("__url__", "__key__")`` -- the shard's URL with the key -- tells them
apart, at the price of params that change when a shard is renamed or moved.

``webdataset`` itself is never imported here: the stage is a plain callable
on an iterator of sample dicts, usable in any ``wds.DataPipeline``.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from dpa.config import AugmentationConfig
from dpa.epochs import SharedEpoch, check_state
from dpa.generate import gen_augmentation_batch, gen_augmentation_params
from dpa.keys import check_epoch, sample_id_from_key
from dpa.version import STREAM_VERSION

__all__ = ["ParamsStage"]


class ParamsStage:
    """A WebDataset pipeline stage: ``sample[output] = params`` of ``sample_id_from_key(sample["__key__"])``.

    Args:
        config: an :class:`~dpa.AugmentationConfig`.
        seed: the run's seed.
        epoch: the starting epoch (change it with :meth:`set_epoch`).
        key: the sample field naming the sample (``"__key__"``), or a tuple of
            fields joined with ``"/"`` (``("__url__", "__key__")``).
        output: the field the params dict goes to.

    Raises:
        TypeError: a bad config; ``key`` or ``output`` not strings.
        ValueError: a bad seed or epoch.
        KeyError: (when iterated) a sample without the key field.

    >>> import dpa
    >>> stage = ParamsStage(dpa.get_preset("mild"), seed=2)
    >>> [s["params"] == dpa.gen_augmentation_params(dpa.sample_id_from_key("a/001"), dpa.get_preset("mild"), seed=2)
    ...  for s in stage([{"__key__": "a/001"}])]
    [True]
    """

    def __init__(
        self,
        config: AugmentationConfig,
        *,
        seed: int = 0,
        epoch: int = 0,
        key: str | tuple[str, ...] = "__key__",
        output: str = "params",
    ) -> None:
        gen_augmentation_batch(np.zeros(0, dtype=np.uint64), config, seed=seed, epoch=epoch)  # validates all three
        self.config = config if isinstance(config, AugmentationConfig) else AugmentationConfig(config)
        self.seed = seed
        fields = (key,) if isinstance(key, str) else key
        if not isinstance(fields, tuple) or not fields or not all(isinstance(f, str) for f in fields):
            raise TypeError(f"key must be a field name or a tuple of field names; got {key!r}")
        if not isinstance(output, str) or not output:
            raise TypeError(f"output must be a non-empty field name; got {output!r}")
        self.key, self.output = fields, output
        self._epoch = SharedEpoch(epoch)

    @property
    def epoch(self) -> int:
        """The epoch the next pass will use."""
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` from the next pass on, in this process and every DataLoader worker."""
        self._epoch.set(epoch)

    def sample_id(self, sample: dict[str, Any]) -> int:
        """The sample id of ``sample``: :func:`dpa.sample_id_from_key` of its key field(s)."""
        try:
            parts = [sample[f] for f in self.key]
        except KeyError as exc:
            raise KeyError(f"a sample has no field {exc.args[0]!r} to key its params by (fields: {sorted(sample)})") from None
        if len(parts) == 1:
            return sample_id_from_key(parts[0])
        return sample_id_from_key("/".join(p.decode() if isinstance(p, bytes) else str(p) for p in parts))

    def __call__(self, samples: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        epoch = self._epoch.pass_epoch()  # once, when the pass starts: all its samples share it
        return self._stage(samples, epoch)

    def _stage(self, samples: Iterable[dict[str, Any]], epoch: int) -> Iterator[dict[str, Any]]:
        for sample in samples:
            sample[self.output] = gen_augmentation_params(self.sample_id(sample), self.config, seed=self.seed, epoch=epoch)
            yield sample

    # -- state ----------------------------------------------------------------------
    def dpa_identity(self) -> dict[str, Any]:
        """What a saved state must match: config fingerprint, seed, stream version and key fields."""
        return {
            "kind": "webdataset.ParamsStage",
            "stream_version": STREAM_VERSION,
            "fingerprint": self.config.fingerprint(),
            "seed": self.seed,
            "key": list(self.key),
        }

    def state_dict(self) -> dict[str, Any]:
        return {**self.dpa_identity(), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take a saved state's epoch; a state of another config, seed, key or stream version is refused."""
        check_state(state, self.dpa_identity(), what="this ParamsStage")
        self.set_epoch(check_epoch(state.get("epoch"), "state['epoch']"))

    def __repr__(self) -> str:
        return f"ParamsStage(seed={self.seed}, epoch={self.epoch}, key={self.key!r}, output={self.output!r})"
