"""dpa.integrations.lightning: keep dpa's epoch in step with a Lightning ``Trainer``.

Lightning calls ``set_epoch`` on a train dataloader's sampler only, never on
its dataset: a dataset that keys its augmentation by epoch gets epoch 0
every epoch (Lightning#20412). And on the first epoch of a ``fit`` -- epoch
0, or the epoch a run resumes at -- Lightning creates the dataloader's
iterator, whose workers start prefetching, before it calls any hook, so even
the sampler's epoch arrives too late there. :class:`EpochCallback` fixes
both, and checks what a run's ranks and checkpoints agree on::

    import lightning.pytorch as L
    from dpa.integrations.lightning import EpochCallback

    trainer = L.Trainer(max_epochs=10, callbacks=[EpochCallback()])

Lightning (``pip install "dpa[lightning]"``, 2.6) is imported by this module
only; ``import dpa`` never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - exercised only without lightning
    raise ImportError(
        "dpa.integrations.lightning needs Lightning 2.x (the 'lightning' package): pip install 'dpa[lightning]'"
    ) from exc

from dpa.data import EpochSampler
from dpa.distributed import RankMismatchError, assert_consistent_across_ranks
from dpa.distributed.env import dist_is_initialized
from dpa.epochs import EpochAware, check_state, find_epoch_aware
from dpa.version import STREAM_VERSION

__all__ = ["EpochCallback"]

_CHECKPOINT_KEY = "dpa"


def _loaders(tree: Any) -> list[Any]:
    """The loaders in Lightning's train dataloader collection (a loader, or lists / dicts of them)."""
    if isinstance(tree, Mapping):
        return [loader for value in tree.values() for loader in _loaders(value)]
    if isinstance(tree, (list, tuple)):
        return [loader for value in tree for loader in _loaders(value)]
    return [] if tree is None else [tree]


class EpochCallback(pl.Callback):
    """Keeps every dpa dataset and sampler of the trainer's train dataloaders at ``trainer.current_epoch``.

    What it does, in a ``Trainer.fit``:

    * at fit start (``on_train_start``): when ``torch.distributed`` is
      initialised, checks that every rank has the same dpa objects with the
      same config fingerprint, seed and epoch
      (:func:`dpa.distributed.assert_consistent_across_ranks`), raising
      :class:`~dpa.distributed.RankMismatchError` on every rank if not; on a
      resumed run, compares the checkpoint's dpa record with this run's
      objects and refuses (ValueError) one saved with another config, seed,
      dataset length or stream version;
    * each epoch (``on_train_epoch_start``): sets ``trainer.current_epoch`` on
      every :class:`~dpa.epochs.EpochAware` object reachable from the train
      dataloaders -- datasets, :class:`~dpa.data.EpochSampler`, helpers of
      :mod:`dpa.integrations.hf` and :mod:`dpa.integrations.webdataset`,
      inside ``CombinedLoader`` collections and behind the
      ``DistributedSampler`` Lightning injects -- and on those injected
      samplers. When the iterator the epoch will use exists already (Lightning
      makes the first epoch's of a fit before any hook) and was made with
      another epoch, it makes it again, so no item of the epoch carries
      another epoch's params or order; a run resumed from a mid-epoch
      checkpoint, whose epoch gets no ``on_train_epoch_start``, gets the same
      at ``on_train_start``;
    * on saving a checkpoint: records each dpa object's identity and the
      epoch under ``checkpoint["dpa"]``.

    Args:
        check_ranks: run the cross-rank check at fit start.

    Raises (from the hooks):
        RankMismatchError: ranks disagree.
        ValueError: a checkpoint's dpa record does not match this run.
    """

    def __init__(self, *, check_ranks: bool = True) -> None:
        if not isinstance(check_ranks, bool):
            raise TypeError(f"check_ranks must be True or False; got {check_ranks!r}")
        self.check_ranks = check_ranks
        self._loaded: dict[str, Any] | None = None

    # -- finding the objects ----------------------------------------------------
    @staticmethod
    def _objects(trainer: "pl.Trainer") -> list[tuple[Any, Any]]:
        """(loader, object) for every dpa object and non-dpa DistributedSampler of the train dataloaders."""
        found, seen = [], set()
        for loader in _loaders(trainer.train_dataloader):
            for obj in find_epoch_aware(loader, samplers=True):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    found.append((loader, obj))
        return found

    @staticmethod
    def _records(objects: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
        return [obj.dpa_identity() for _, obj in objects if isinstance(obj, EpochAware)]

    @staticmethod
    def _iterator_made(trainer: "pl.Trainer") -> bool:
        """Whether the train iterator this epoch will use exists already (made before the epoch's hooks).

        Lightning 2.6 makes one in ``FitLoop.setup_data`` and uses it for the
        first epoch of a fit (a fresh one or a resumed one); for a later epoch
        ``_TrainingEpochLoop.on_run_start`` makes a new one after
        ``on_train_epoch_start``. This is that method's own test.
        """
        loop = trainer.fit_loop
        return not (trainer.current_epoch > 0 and not loop.is_resuming and not loop.epoch_loop.restarting)

    # -- hooks ------------------------------------------------------------------
    def on_train_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        objects = self._objects(trainer)
        if self.check_ranks:
            self._check_ranks(objects, trainer.current_epoch)
        if self._loaded is not None:
            self._check_checkpoint(self._records(objects))
            self._loaded = None
        if trainer.fit_loop.restarted_mid_epoch:
            # Lightning calls no on_train_epoch_start for the epoch a mid-epoch checkpoint resumes.
            self._sync(trainer, objects)

    def on_train_epoch_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        self._sync(trainer, self._objects(trainer))

    def _sync(self, trainer: "pl.Trainer", objects: list[tuple[Any, Any]]) -> None:
        """Set ``trainer.current_epoch`` on ``objects``; make the epoch's iterator again if it was made with another."""
        epoch, made = trainer.current_epoch, self._iterator_made(trainer)
        remake = False
        for loader, obj in objects:
            remake |= self._step(loader, obj, epoch, made, trainer)
        if remake:
            # The iterator of this epoch exists already (Lightning made it before any hook, and its
            # workers may have prefetched items with another epoch): make it again.
            fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
            if fetcher is None:  # pragma: no cover - guards against a Lightning that renamed it
                raise RuntimeError(
                    "EpochCallback cannot restart this Lightning version's train iterator; "
                    "use Lightning 2.6 (pip install 'dpa[lightning]')"
                )
            iter(fetcher)

    @staticmethod
    def _step(loader: Any, obj: Any, epoch: int, made: bool, trainer: "pl.Trainer") -> bool:
        """Set ``epoch`` on ``obj``; True when the loader's iterator, already ``made``, must be made again for it."""
        if isinstance(obj, EpochSampler):
            started = obj.pass_epoch
            if not made and started == epoch:
                # A pass of this epoch was begun by an iterator Lightning drops (with
                # reload_dataloaders_every_n_epochs it makes two): the epoch's own must begin it again.
                obj.load_state_dict({**obj.state_dict(), "epoch": epoch, "position": 0, "next_epoch": epoch + 1})
                return False
            obj.set_epoch(epoch)
            return made and started is not None and started != epoch
        if not isinstance(obj, EpochAware):  # a DistributedSampler Lightning injected
            stale = getattr(obj, "epoch", epoch) != epoch
            obj.set_epoch(epoch)
            return made and stale
        stale = obj.epoch != epoch
        obj.set_epoch(epoch)
        if not (made and stale) or isinstance(getattr(loader, "sampler", None), EpochSampler):
            return False  # keys from an EpochSampler carry their own epoch
        # A stateful loader that Lightning restored mid-epoch carries the epoch in its own state.
        restored = trainer.fit_loop.restarted_mid_epoch and callable(getattr(loader, "load_state_dict", None))
        return not restored

    def _check_ranks(self, objects: list[tuple[Any, Any]], epoch: int) -> None:
        if not dist_is_initialized():
            return
        import torch.distributed as dist

        records = self._records(objects)
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, records)
        kinds = [[r["kind"] for r in g] for g in gathered]
        if any(k != kinds[0] for k in kinds):
            # Checked before any further collective call, which every rank must make alike.
            raise RankMismatchError(
                "ranks disagree on their dpa datasets and samplers: "
                + "; ".join(f"rank {rank} has {k}" for rank, k in enumerate(kinds))
            )
        for _, obj in objects:
            if isinstance(obj, EpochAware) and hasattr(obj, "config") and hasattr(obj, "seed"):
                assert_consistent_across_ranks(obj.config, obj.seed, epoch)
        problems = []
        for k, kind in enumerate(kinds[0]):
            for field in gathered[0][k]:
                values = [g[k].get(field) for g in gathered]
                if len(set(map(repr, values))) > 1:
                    by_value: dict[str, list[int]] = {}
                    for rank, value in enumerate(values):
                        by_value.setdefault(repr(value), []).append(rank)
                    problems.append(f"{kind} {field}: " + "; ".join(f"ranks {r} have {v}" for v, r in by_value.items()))
        if problems:
            raise RankMismatchError("ranks disagree on " + " | ".join(problems))

    def _check_checkpoint(self, records: list[dict[str, Any]]) -> None:
        saved = self._loaded.get("objects", [])
        if len(saved) != len(records):
            raise ValueError(
                f"the checkpoint's dpa record lists {len(saved)} dpa object(s) "
                f"({[r.get('kind') for r in saved]}); this run has {len(records)} ({[r['kind'] for r in records]})"
            )
        for k, (old, new) in enumerate(zip(saved, records)):
            check_state(old, new, what=f"this run's dpa object {k} ({new['kind']}): the checkpoint was saved by another")

    def on_save_checkpoint(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", checkpoint: dict) -> None:
        checkpoint[_CHECKPOINT_KEY] = {
            "stream_version": STREAM_VERSION,
            "epoch": trainer.current_epoch,
            "objects": self._records(self._objects(trainer)),
        }

    def on_load_checkpoint(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", checkpoint: dict) -> None:
        record = checkpoint.get(_CHECKPOINT_KEY)
        if record is None:
            pl.utilities.rank_zero_warn(
                "this checkpoint has no dpa record (it was saved without EpochCallback): its config cannot be checked"
            )
            return
        if not isinstance(record, Mapping) or not isinstance(record.get("objects"), list):
            raise ValueError(f"the checkpoint's dpa record is malformed: {record!r}")
        self._loaded = dict(record)
