"""Peer baselines, run in the same process as dpa so that ratios hold on a noisy machine.

Each peer generates ``k`` parameter values for each of ``n`` samples the way
a user of that library would, and can also produce the values for given
sample ids under a given batch size and worker count, so that whether it is
*invariant* to those (as dpa is) is tested, not assumed
(:func:`check_invariance`).

Peers: ``numpy_default_rng`` (per-sample ``default_rng([seed, id])``),
``torch_generator`` (per-sample ``torch.Generator().manual_seed``),
``numpy_philox_fill`` (numpy's C generator filling an array: the CPU ceiling,
seeded per worker the way DataLoader workers are), ``kornia`` (batched
``forward_parameters`` of RandomAffine + ColorJitter + RandomHorizontalFlip,
when kornia is installed).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Peer", "available_peers", "check_invariance", "dpa_peer"]

SEED = 1234


@dataclass(frozen=True)
class Peer:
    """A baseline: ``run(n, k)`` does the work being timed; ``values(ids, k, batch, workers)`` returns an (n, k) array."""

    name: str
    description: str
    run: Callable[[int, int], Any]
    values: Callable[[np.ndarray, int, int, int], np.ndarray]
    per_sample: bool  # cost is per sample (scalar path) rather than per batch


def _split(ids: np.ndarray, batch: int, workers: int) -> list[tuple[int, np.ndarray]]:
    """(worker, batch of ids) in the order a DataLoader with strided workers would produce them."""
    out = []
    for w in range(workers):
        mine = ids[w::workers]
        for lo in range(0, len(mine), batch):
            out.append((w, mine[lo : lo + batch]))
    return out


def _assemble(ids: np.ndarray, pieces: list[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    pos = {int(i): j for j, i in enumerate(ids)}
    out = np.empty((len(ids), k))
    for batch_ids, vals in pieces:
        for i, v in zip(batch_ids, vals):
            out[pos[int(i)]] = v
    return out


# ----------------------------------------------------------------------------- numpy per sample


def _np_rng_run(n: int, k: int) -> None:
    for i in range(n):
        np.random.default_rng([SEED, i]).random(k)


def _np_rng_values(ids: np.ndarray, k: int, batch: int, workers: int) -> np.ndarray:
    pieces = [(b, np.stack([np.random.default_rng([SEED, int(i)]).random(k) for i in b])) for _, b in _split(ids, batch, workers)]
    return _assemble(ids, pieces, k)


# ----------------------------------------------------------------------------- torch per sample


def _torch_run(n: int, k: int) -> None:
    import torch

    g = torch.Generator()
    for i in range(n):
        g.manual_seed(SEED * 1_000_003 + i)
        torch.rand(k, generator=g)


def _torch_values(ids: np.ndarray, k: int, batch: int, workers: int) -> np.ndarray:
    import torch

    g = torch.Generator()
    pieces = []
    for _, b in _split(ids, batch, workers):
        rows = []
        for i in b:
            g.manual_seed(SEED * 1_000_003 + int(i))
            rows.append(torch.rand(k, generator=g, dtype=torch.float64).numpy())
        pieces.append((b, np.stack(rows)))
    return _assemble(ids, pieces, k)


# ----------------------------------------------------------------------------- numpy fill


def _fill_run(n: int, k: int) -> None:
    gen = np.random.Generator(np.random.Philox(SEED))
    gen.random((n, k), dtype=np.float32)


def _fill_values(ids: np.ndarray, k: int, batch: int, workers: int) -> np.ndarray:
    # One generator per worker, seeded base + worker id as DataLoader seeds its workers.
    gens = [np.random.Generator(np.random.Philox(SEED + w)) for w in range(workers)]
    pieces = [(b, gens[w].random((len(b), k))) for w, b in _split(ids, batch, workers)]
    return _assemble(ids, pieces, k)


# ----------------------------------------------------------------------------- kornia

_KORNIA_VALUES = 10  # angle, translate x/y, scale x/y, shear x/y, brightness, contrast, saturation (+ hue, flip)


def _kornia_augs():
    import kornia.augmentation as K

    return [
        K.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, p=1.0),
        K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0),
        K.RandomHorizontalFlip(p=0.5),
    ]


def _kornia_run(n: int, k: int) -> None:
    import torch

    shape = torch.Size([n, 3, 8, 8])
    for aug in _kornia_augs():
        aug.forward_parameters(shape)


def _kornia_values(ids: np.ndarray, k: int, batch: int, workers: int) -> np.ndarray:
    import torch

    augs = _kornia_augs()
    pieces = []
    for w in range(workers):
        torch.manual_seed(SEED + w)  # each worker process has its own torch RNG
        for wid, b in _split(ids, batch, workers):
            if wid != w:
                continue
            p = augs[0].forward_parameters(torch.Size([len(b), 3, 8, 8]))
            c = augs[1].forward_parameters(torch.Size([len(b), 3, 8, 8]))
            cols = [p["angle"], p["translations"][:, 0], p["translations"][:, 1], p["scale"][:, 0],
                    c["brightness_factor"], c["contrast_factor"], c["saturation_factor"], c["hue_factor"]]
            vals = torch.stack([x.double() for x in cols], dim=1).numpy()
            pieces.append((b, np.resize(vals, (len(b), k))))
    return _assemble(ids, pieces, k)


# ----------------------------------------------------------------------------- dpa


def dpa_peer(config: Any) -> Peer:
    """dpa itself as a peer: the batch API, and its values for the invariance check."""
    import dpa

    def run(n: int, k: int) -> None:
        dpa.gen_augmentation_batch(np.arange(n, dtype=np.uint64), config, seed=SEED)

    def values(ids: np.ndarray, k: int, batch: int, workers: int) -> np.ndarray:
        pieces = []
        for _, b in _split(ids, batch, workers):
            out = dpa.gen_augmentation_batch(b, config, seed=SEED)
            floats = [v for v in out.values() if v.dtype == np.float64][:k]
            pieces.append((b, np.stack(floats, axis=1)))
        return _assemble(ids, pieces, k)

    return Peer("dpa", "dpa.gen_augmentation_batch", run, values, per_sample=False)


def available_peers() -> dict[str, Peer]:
    """The peers whose libraries are installed here."""
    peers = {
        "numpy_default_rng": Peer(
            "numpy_default_rng", "per sample: np.random.default_rng([seed, id]).random(k)", _np_rng_run, _np_rng_values, True
        ),
        "numpy_philox_fill": Peer(
            "numpy_philox_fill", "Generator(Philox(seed)).random((n, k), float32): the CPU ceiling", _fill_run,
            _fill_values, False
        ),
    }
    if importlib.util.find_spec("torch") is not None:
        peers["torch_generator"] = Peer(
            "torch_generator", "per sample: Generator().manual_seed(f(seed, id)); torch.rand(k)", _torch_run,
            _torch_values, True
        )
    if importlib.util.find_spec("kornia") is not None:
        peers["kornia"] = Peer(
            "kornia", "forward_parameters of RandomAffine + ColorJitter + RandomHorizontalFlip", _kornia_run,
            _kornia_values, False
        )
    return peers


def check_invariance(peer: Peer, n: int = 48, k: int = 4) -> dict[str, bool]:
    """Whether ``peer``'s values per sample stay the same when the batch size or the worker count changes."""
    ids = np.arange(n, dtype=np.uint64) * np.uint64(7) + np.uint64(3)
    ref = peer.values(ids, k, n, 1)
    return {
        "batch_size": bool(np.array_equal(ref, peer.values(ids, k, 5, 1))),
        "workers": bool(np.array_equal(ref, peer.values(ids, k, n, 3))),
    }
