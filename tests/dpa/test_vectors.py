"""Golden vectors: exact outputs pinned across releases.

If one of these fails, an output changed. That is allowed only with a new
``dpa.STREAM_VERSION``: bump it, run ``python tools/make_vectors.py`` and
say why in the commit.

Every file is checked on every implementation: the compiled and the numpy
kernels (the ``kernel`` fixture), each through the batch and the one-sample
path, and the torch kernels, run here on CPU tensors (on a GPU they are the
code that runs; ``backend="torch"`` on the CPU hands the work to numpy).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import xxhash

import dpa
from dpa.prng import xxh64_pair
from dpa.specs import spec_kinds
from tests.conftest import requires_torch

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "vectors"

# Every kind the library defines, and each must be pinned.
ALL_KINDS = {
    "uniform", "log_uniform", "normal", "truncated_normal", "integer", "choice", "bernoulli",
    "resized_crop", "erasing", "permutation",
}


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def config_files() -> list[str]:
    return [f"preset_{p}.json" for p in dpa.preset_names()] + ["kinds.json"]


def load_config(name: str) -> tuple[dict, dpa.AugmentationConfig]:
    data = load(name)
    assert data["stream_version"] == dpa.STREAM_VERSION, "vectors are for another stream version"
    if "preset" in data:
        cfg = dpa.get_preset(data["preset"])
        assert data["config"] == cfg.to_dict(), "the preset changed: bump STREAM_VERSION and remake the vectors"
    else:
        cfg = dpa.AugmentationConfig.from_dict(data["config"])
        assert cfg.to_dict() == data["config"], "a spec's dict form changed"
    assert data["fingerprint"] == cfg.fingerprint()
    return data, cfg


def test_kernel_vectors(kernel: str) -> None:
    rows = load("xxh64_pair.json")["rows"]
    assert len(rows) >= 50
    for a, b, seed, digest in rows:
        a, b, seed, digest = int(a), int(b), int(seed), int(digest)
        assert xxh64_pair(a, b, seed) == digest
        assert xxhash.xxh64_intdigest(a.to_bytes(8, "little") + b.to_bytes(8, "little"), seed) == digest
    arrays = [np.array([int(r[k]) for r in rows], dtype=np.uint64) for k in range(4)]
    np.testing.assert_array_equal(xxh64_pair(*arrays[:3]), arrays[3])


def test_every_kind_is_pinned() -> None:
    """kinds.json holds every kind, each with gates at p in {0, tiny, 0.5, 1} (bernoulli: its own p)."""
    config = load("kinds.json")["config"]
    kinds = {spec["kind"] for spec in config.values()}
    assert kinds == ALL_KINDS and set(spec_kinds()) >= ALL_KINDS
    for kind in ALL_KINDS:
        ps = {spec.get("p", 1.0) for spec in config.values() if spec["kind"] == kind}
        assert {0.0, 0.5, 1.0} <= ps and any(0.0 < p < 1e-9 for p in ps), kind
    ids = [int(i) for i in load("kinds.json")["ids"]]
    assert {0, 2**63, 2**64 - 1} <= set(ids)
    cases = {(int(c["seed"]), c["epoch"]) for c in load("kinds.json")["cases"]}
    assert (2**64 - 1, 2**32 - 1) in cases


@pytest.mark.parametrize("name", config_files())
def test_config_vectors(name: str, kernel: str) -> None:
    data, cfg = load_config(name)
    ids = [int(i) for i in data["ids"]]
    assert max(ids) == 2**64 - 1
    dtypes = {o.name: {"float": np.float64, "int": np.int64, "bool": np.bool_}[o.dtype] for o in cfg.outputs}
    for case in data["cases"]:
        seed, epoch = int(case["seed"]), case["epoch"]
        batch = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch)
        assert list(batch) == list(case["params"])
        for out, expected in case["params"].items():
            assert batch[out].dtype == dtypes[out], out
            assert batch[out].tolist() == expected, f"{name} {out} seed={seed} epoch={epoch}"
        for k, sid in enumerate(ids):
            scalar = dpa.gen_augmentation_params(sid, cfg, seed=seed, epoch=epoch)
            want = {out: values[k] for out, values in case["params"].items()}
            assert scalar == want, f"{name} id={sid} seed={seed} epoch={epoch}"
            assert [type(v) for v in scalar.values()] == [type(batch[out][k].item()) for out in scalar]


@requires_torch
@pytest.mark.parametrize("name", config_files())
def test_config_vectors_on_the_torch_kernels(name: str) -> None:
    data, cfg = load_config(name)
    ids = [int(i) for i in data["ids"]]
    for case in data["cases"]:
        seed, epoch = int(case["seed"]), case["epoch"]
        got = dpa.Generator(cfg, seed=seed).batch(ids, epoch=epoch, backend="torch", executor="torch")
        assert list(got) == list(case["params"])
        for out, expected in case["params"].items():
            assert got[out].tolist() == expected, f"{name} {out} seed={seed} epoch={epoch} (torch)"


@requires_torch
def test_noise_field_vectors() -> None:
    import torch

    from dpa.apply import noise_field

    executors = [None, "numpy", "torch"] + (["compiled"] if dpa.prng.compiled_kernel() is not None else [])
    data = load("noise_field.json")
    assert data["stream_version"] == dpa.STREAM_VERSION
    for f in data["fields"]:
        ids = [int(i) for i in f["ids"]]
        seed, epoch, shape = int(f["seed"]), f["epoch"], tuple(f["shape"])
        for executor in executors:  # "torch": the code that runs on a GPU, here on the CPU
            z = noise_field((len(ids), *shape), ids, seed=seed, epoch=epoch, executor=executor)
            assert tuple(z.shape) == (len(ids), *shape) and z.dtype == torch.float64
            assert z.reshape(len(ids), -1).tolist() == f["values"], f"seed={seed} epoch={epoch} shape={shape} {executor}"
