"""Golden vectors: exact outputs pinned across releases.

If one of these fails, an output changed. That is allowed only with a new
``dpa.STREAM_VERSION``: bump it, run ``python tools/make_vectors.py`` and
say why in the commit.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import xxhash

import dpa
from dpa.prng import xxh64_pair

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def test_kernel_vectors(kernel: str) -> None:
    rows = load("xxh64_pair.json")["rows"]
    assert len(rows) >= 50
    for a, b, seed, digest in rows:
        a, b, seed, digest = int(a), int(b), int(seed), int(digest)
        assert xxh64_pair(a, b, seed) == digest
        assert xxhash.xxh64_intdigest(a.to_bytes(8, "little") + b.to_bytes(8, "little"), seed) == digest
    arrays = [np.array([int(r[k]) for r in rows], dtype=np.uint64) for k in range(4)]
    np.testing.assert_array_equal(xxh64_pair(*arrays[:3]), arrays[3])


@pytest.mark.parametrize("preset", dpa.preset_names())
def test_preset_vectors(preset: str, kernel: str) -> None:
    data = load(f"preset_{preset}.json")
    assert data["stream_version"] == dpa.STREAM_VERSION, "vectors are for another stream version"
    cfg = dpa.get_preset(preset)
    assert data["config"] == cfg.to_dict(), "the preset changed: bump STREAM_VERSION and remake the vectors"
    assert data["fingerprint"] == cfg.fingerprint()
    ids = [int(i) for i in data["ids"]]
    assert max(ids) == 2**64 - 1
    for case in data["cases"]:
        seed, epoch = int(case["seed"]), case["epoch"]
        batch = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch)
        assert list(batch) == list(case["params"])
        for name, expected in case["params"].items():
            assert batch[name].tolist() == expected, f"{preset} {name} seed={seed} epoch={epoch}"
        for k in (0, len(ids) - 1):
            scalar = dpa.gen_augmentation_params(ids[k], cfg, seed=seed, epoch=epoch)
            assert {n: v[k] for n, v in case["params"].items()} == scalar
