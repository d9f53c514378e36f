"""dpa.integrations.hf: deterministic params for HuggingFace ``datasets``, keyed by a stable id.

A HuggingFace dataset's rows are keyed by an id column -- an integer id is
the sample id itself, a string (a file name, a record id) maps to one with
:func:`dpa.sample_id_from_key` -- or by the row index of a map-style dataset.
:class:`ParamsTransform` adds each row's params, as a dict, in a column
(``"params"`` by default)::

    import dpa
    from dpa.integrations.hf import ParamsTransform

    params = ParamsTransform(dpa.get_preset("moderate"), seed=0, id_column="image_id")
    train = params.apply(hf_dataset)        # Dataset: with_transform; IterableDataset: map(batched=True)
    for epoch in range(10):
        params.set_epoch(epoch)             # shared memory: DataLoader workers see it
        for batch in DataLoader(train, batch_size=64, num_workers=4): ...

``hf_dataset.with_transform(params)`` works too when ``id_column`` is set.
The epoch is a :class:`dpa.epochs.SharedEpoch`, read once per batch of rows:
set it between passes (before ``iter(loader)``), as with ``AugmentedDataset``.
:class:`dpa.integrations.lightning.EpochCallback` finds a ``ParamsTransform``
behind ``with_transform`` and keeps it in step.

``datasets`` is imported only by :meth:`ParamsTransform.apply`; this module
imports torch (for the shared epoch).
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

import numpy as np
from torch.utils.data import get_worker_info

from dpa.config import AugmentationConfig
from dpa.distributed.env import get_rank_world_size
from dpa.epochs import SharedEpoch, check_state
from dpa.generate import gen_augmentation_batch
from dpa.keys import check_epoch, check_sample_id, sample_id_from_key
from dpa.stream import param_rows
from dpa.version import STREAM_VERSION

__all__ = ["ParamsTransform", "INDEX_COLUMN"]

#: The column :meth:`ParamsTransform.apply` adds to key a map-style dataset by row index.
INDEX_COLUMN = "__dpa_index__"


def _sample_ids(values: list[Any], column: str) -> np.ndarray:
    """Sample ids of an id column's values: integers as they are, strings and bytes through sample_id_from_key."""
    out = np.empty(len(values), dtype=np.uint64)
    for k, value in enumerate(values):
        if isinstance(value, (str, bytes)):
            out[k] = sample_id_from_key(value)
        elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
            out[k] = check_sample_id(value, f"{column} value")
        else:
            raise TypeError(
                f"id column {column!r} must hold integers in [0, 2**64) or strings; got {value!r} "
                f"of type {type(value).__name__}"
            )
    return out


def _check_one_reader() -> None:
    """Refuse stream positions as sample ids where several processes split the stream (each counts from 0)."""
    info = get_worker_info()
    workers = info.num_workers if info is not None else 1
    _, ranks = get_rank_world_size()
    if workers * ranks > 1:
        raise ValueError(
            f"ParamsTransform without id_column keys a streaming dataset by stream position, but this stream is "
            f"read by {workers} DataLoader workers x {ranks} ranks, each counting positions from 0 in its own "
            f"shards (rows would share params, and which ones would depend on the worker count): give "
            f"id_column= a column with a stable id per row, or read the stream with one process"
        )


class ParamsTransform:
    """A batch transform for ``datasets``: adds each row's dpa params, keyed by an id column or the row index.

    Args:
        config: an :class:`~dpa.AugmentationConfig`.
        seed: the run's seed.
        epoch: the starting epoch (change it with :meth:`set_epoch`).
        id_column: the column holding each row's stable id (integers in
            ``[0, 2**64)``, or strings keyed through
            :func:`dpa.sample_id_from_key`); None keys rows by their index,
            which :meth:`apply` provides.
        output: the name of the column the params dicts go to.

    Called with a batch ``{column: [values]}`` (what ``with_transform``
    passes), it returns the batch with ``output`` added: one dict of plain
    Python values per row, those :func:`dpa.gen_augmentation_params` gives
    for the row's id in the current epoch.

    Raises:
        TypeError: a bad config, a non-string column name.
        ValueError: a bad seed or epoch; an id outside ``[0, 2**64)`` (when called).

    >>> import dpa
    >>> t = ParamsTransform(dpa.get_preset("mild"), seed=1, id_column="id")
    >>> out = t({"id": [5, "cat.jpg"], "label": [0, 1]})
    >>> out["params"][0] == dpa.gen_augmentation_params(5, dpa.get_preset("mild"), seed=1), out["label"]
    (True, [0, 1])
    """

    def __init__(
        self,
        config: AugmentationConfig,
        *,
        seed: int = 0,
        epoch: int = 0,
        id_column: str | None = None,
        output: str = "params",
    ) -> None:
        gen_augmentation_batch(np.zeros(0, dtype=np.uint64), config, seed=seed, epoch=epoch)  # validates all three
        if not isinstance(config, AugmentationConfig):
            config = AugmentationConfig(config)
        for name, value in (("id_column", id_column), ("output", output)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a column name (a str); got {value!r}")
        if not output:
            raise ValueError("output must be a non-empty column name")
        self.config, self.seed = config, seed
        self.id_column, self.output = id_column, output
        self._epoch = SharedEpoch(epoch)

    # -- the epoch ----------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s params from now on, in this process and in every DataLoader worker."""
        self._epoch.set(epoch)

    # -- the transform ------------------------------------------------------------
    def __call__(self, batch: Mapping[str, list[Any]], indices: list[int] | None = None) -> dict[str, Any]:
        column = self.id_column if self.id_column is not None else INDEX_COLUMN
        if indices is not None and self.id_column is None:
            _check_one_reader()
            ids = _sample_ids(list(indices), "index")
        elif column in batch:
            ids = _sample_ids(list(batch[column]), column)
        else:
            raise KeyError(
                f"the batch has no column {column!r} to key params by (columns: {sorted(batch)}): "
                + ("give ParamsTransform(id_column=...) an existing column"
                   if self.id_column is not None else
                   "give id_column=, or use ParamsTransform.apply(dataset), which adds a row-index column")
            )
        params = param_rows(gen_augmentation_batch(ids, self.config, seed=self.seed, epoch=self.epoch)) if len(ids) else []
        out = {name: values for name, values in batch.items() if name != INDEX_COLUMN}
        out[self.output] = params
        return out

    def apply(self, dataset: Any) -> Any:
        """``dataset`` with this transform: ``with_transform`` for a ``Dataset``, ``map(batched=True)`` for an ``IterableDataset``.

        Without ``id_column``, a map-style dataset gets a row-index column
        (:data:`INDEX_COLUMN`, hidden from the output) and a streaming one is
        keyed by each row's position in the stream (stable as long as the
        stream's order is: not shuffled, same shards, one reader). Read by
        several DataLoader workers or ranks, which count positions from 0 in
        their own shards, it raises ValueError: give ``id_column``.

        Raises:
            TypeError: ``dataset`` is not a HuggingFace ``Dataset`` or ``IterableDataset``.
            ImportError: HuggingFace ``datasets`` is not installed.
        """
        try:
            import datasets
        except ImportError as exc:
            raise ImportError("ParamsTransform.apply needs HuggingFace datasets: pip install 'dpa[hf]'") from exc

        if isinstance(dataset, datasets.IterableDataset):
            return dataset.map(self, batched=True, with_indices=self.id_column is None)
        if not isinstance(dataset, datasets.Dataset):
            raise TypeError(f"dataset must be a datasets.Dataset or datasets.IterableDataset; got {type(dataset).__name__}")
        if self.id_column is None and INDEX_COLUMN not in dataset.column_names:
            dataset = dataset.add_column(INDEX_COLUMN, np.arange(len(dataset), dtype=np.int64))
        return dataset.with_transform(self)

    # -- state ----------------------------------------------------------------------
    def dpa_identity(self) -> dict[str, Any]:
        """What a saved state must match: config fingerprint, seed, stream version and id column."""
        return {
            "kind": "hf.ParamsTransform",
            "stream_version": STREAM_VERSION,
            "fingerprint": self.config.fingerprint(),
            "seed": self.seed,
            "id_column": self.id_column,
        }

    def state_dict(self) -> dict[str, Any]:
        return {**self.dpa_identity(), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take a saved state's epoch; a state of another config, seed, id column or stream version is refused."""
        check_state(state, self.dpa_identity(), what="this ParamsTransform")
        self.set_epoch(check_epoch(state.get("epoch"), "state['epoch']"))

    def __repr__(self) -> str:
        return f"ParamsTransform(seed={self.seed}, epoch={self.epoch}, id_column={self.id_column!r}, output={self.output!r})"
