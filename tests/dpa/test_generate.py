"""The determinism contract: scalar == batch == any chunking == torch, and the input domain."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpa
from dpa import AugmentationConfig
from tests.conftest import HAS_TORCH, requires_torch

PRESETS = dpa.preset_names()
EDGE_IDS = [0, 1, 2, 3, 2**31 - 1, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 3, 2**64 - 2, 2**64 - 1]


def ids_under_test() -> np.ndarray:
    rng = np.random.default_rng(2024)
    rand = rng.integers(0, 2**64, size=500, dtype=np.uint64, endpoint=False)
    return np.concatenate([np.array(EDGE_IDS, dtype=np.uint64), rand, np.arange(100, dtype=np.uint64)])


def assert_batch_equals_scalar(batch: dict, ids: np.ndarray, cfg, seed: int, epoch: int) -> None:
    for k, sid in enumerate(ids):
        scalar = dpa.gen_augmentation_params(int(sid), cfg, seed=seed, epoch=epoch)
        assert list(scalar) == list(batch)
        for name, value in scalar.items():
            got = batch[name][k]
            assert got == value, f"{name} of id {int(sid)}: batch {got!r} != scalar {value!r}"


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("seed, epoch", [(0, 0), (2**64 - 1, 2**32 - 1), (12345, 7)])
def test_scalar_equals_batch(preset: str, seed: int, epoch: int, kernel: str) -> None:
    cfg = dpa.get_preset(preset)
    ids = ids_under_test()
    batch = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch)
    assert_batch_equals_scalar(batch, ids, cfg, seed, epoch)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("chunk", [1, 7, 256, 4099])
def test_any_chunking_gives_the_same_arrays(preset: str, chunk: int, kernel: str) -> None:
    cfg = dpa.get_preset(preset)
    ids = np.concatenate([ids_under_test(), np.arange(10_000, 19_000, dtype=np.uint64)])
    whole = dpa.gen_augmentation_batch(ids, cfg, seed=3, epoch=1)
    parts = [dpa.gen_augmentation_batch(ids[i : i + chunk], cfg, seed=3, epoch=1) for i in range(0, len(ids), chunk)]
    for name in whole:
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name])


@requires_torch
@pytest.mark.parametrize("preset", PRESETS)
def test_torch_backend_equals_numpy(preset: str) -> None:
    import torch

    cfg = dpa.get_preset(preset)
    ids = np.concatenate([ids_under_test(), np.arange(50_000, dtype=np.uint64)])
    ref = dpa.gen_augmentation_batch(ids, cfg, seed=99, epoch=5)
    for ids_in in (ids, torch.from_numpy(ids[ids < 2**63].view(np.int64).copy())):
        got = dpa.gen_augmentation_batch(ids_in, cfg, seed=99, epoch=5, backend="torch")
        mask = slice(None) if isinstance(ids_in, np.ndarray) else ids < 2**63
        for name in ref:
            assert isinstance(got[name], torch.Tensor) and got[name].device.type == "cpu"
            np.testing.assert_array_equal(got[name].numpy(), ref[name][mask], err_msg=name)


@requires_torch
@pytest.mark.parametrize("preset", PRESETS)
def test_torch_kernels_on_cpu_equal_numpy(preset: str) -> None:
    """The torch kernels (what runs on CUDA) checked on CPU tensors, where CI can run them."""
    cfg = dpa.get_preset(preset)
    ids = np.concatenate([ids_under_test(), np.arange(20_000, dtype=np.uint64)])
    ref = dpa.gen_augmentation_batch(ids, cfg, seed=99, epoch=5)
    got = dpa.Generator(cfg, seed=99).batch(ids, epoch=5, backend="torch", executor="torch")
    for name in ref:
        np.testing.assert_array_equal(got[name].numpy(), ref[name], err_msg=name)


@requires_torch
def test_torch_backend_on_cuda_equals_numpy() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    for preset in PRESETS:
        cfg = dpa.get_preset(preset)
        ids = ids_under_test()
        ref = dpa.gen_augmentation_batch(ids, cfg, seed=1)
        got = dpa.gen_augmentation_batch(ids, cfg, seed=1, backend="torch", device="cuda")
        for name in ref:
            np.testing.assert_array_equal(got[name].cpu().numpy(), ref[name], err_msg=name)


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(0, 2**64 - 1),
    n=st.integers(0, 300),
    chunk=st.integers(1, 400),
    seed=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 2**32 - 1),
)
def test_chunking_property(start: int, n: int, chunk: int, seed: int, epoch: int) -> None:
    cfg = dpa.get_preset("aggressive")
    ids = [(start + i) % 2**64 for i in range(n)]
    whole = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch)
    for i in range(0, n, chunk):
        part = dpa.gen_augmentation_batch(ids[i : i + chunk], cfg, seed=seed, epoch=epoch)
        for name in whole:
            np.testing.assert_array_equal(part[name], whole[name][i : i + chunk])
    if n:
        one = dpa.gen_augmentation_params(ids[-1], cfg, seed=seed, epoch=epoch)
        assert one == {name: whole[name][-1] for name in whole}


def test_scalar_values_are_plain_python() -> None:
    p = dpa.gen_augmentation_params(5, dpa.get_preset("aggressive"))
    assert type(p["rotation"]) is float
    assert type(p["hflip"]) is bool
    assert type(p["color_order_0"]) is int


def test_batch_dtypes_and_shapes() -> None:
    b = dpa.gen_augmentation_batch(range(10), dpa.get_preset("moderate"))
    assert b["rotation"].dtype == np.float64 and b["rotation"].shape == (10,)
    assert b["hflip"].dtype == np.bool_
    assert b["color_order_2"].dtype == np.int64
    empty = dpa.gen_augmentation_batch([], dpa.get_preset("moderate"))
    assert all(v.shape == (0,) for v in empty.values())


def test_id_containers_agree() -> None:
    cfg = dpa.get_preset("mild")
    ref = dpa.gen_augmentation_batch(np.arange(5, 25, 3, dtype=np.uint64), cfg)
    for ids in (range(5, 25, 3), list(range(5, 25, 3)), tuple(range(5, 25, 3)), np.arange(5, 25, 3),
                np.arange(5, 25, 3, dtype=np.int32), np.array(list(range(5, 25, 3)), dtype=object)):
        got = dpa.gen_augmentation_batch(ids, cfg)
        for name in ref:
            np.testing.assert_array_equal(got[name], ref[name])
    rev = dpa.gen_augmentation_batch(range(2**64 - 1, 2**64 - 6, -1), cfg)
    np.testing.assert_array_equal(
        rev["rotation"], dpa.gen_augmentation_batch([2**64 - 1 - i for i in range(5)], cfg)["rotation"]
    )


def test_params_depend_only_on_their_own_name_and_spec() -> None:
    cfg = dpa.get_preset("moderate")
    ids = range(2000)
    base = dpa.gen_augmentation_batch(ids, cfg, seed=4)
    smaller = dpa.gen_augmentation_batch(ids, cfg.without("rotation", "crop"), seed=4)
    bigger = dpa.gen_augmentation_batch(ids, cfg.with_params(extra={"kind": "normal", "mean": 0, "std": 1}), seed=4)
    reordered = AugmentationConfig(dict(reversed(list(cfg.items()))))
    rev = dpa.gen_augmentation_batch(ids, reordered, seed=4)
    for name in smaller:
        np.testing.assert_array_equal(smaller[name], base[name])
    for name in base:
        np.testing.assert_array_equal(bigger[name], base[name])
        np.testing.assert_array_equal(rev[name], base[name])


def test_seed_and_epoch_change_values() -> None:
    cfg = dpa.get_preset("moderate")
    ids = range(1000)
    a = dpa.gen_augmentation_batch(ids, cfg, seed=1, epoch=0)["rotation"]
    assert (a != dpa.gen_augmentation_batch(ids, cfg, seed=2, epoch=0)["rotation"]).mean() > 0.99
    assert (a != dpa.gen_augmentation_batch(ids, cfg, seed=1, epoch=1)["rotation"]).mean() > 0.99


def test_keys_come_from_hashing_not_addition() -> None:
    # With seeds made by addition (Philox(key=seed + index)), seed s / id i+1
    # would repeat seed s+1 / id i. Here no such shift reproduces anything.
    cfg = dpa.get_preset("moderate")
    n = 2000
    for s in (0, 1, 2**32 - 1, 2**63):
        a = dpa.gen_augmentation_batch(range(1, n + 1), cfg, seed=s)
        b = dpa.gen_augmentation_batch(range(0, n), cfg, seed=s + 1)
        assert (a["rotation"] == b["rotation"]).mean() < 0.01
        assert (a["scale"] == b["scale"]).mean() < 0.01
    for e in (0, 1, 2**31):
        a = dpa.gen_augmentation_batch(range(1, n + 1), cfg, epoch=e)
        b = dpa.gen_augmentation_batch(range(0, n), cfg, epoch=e + 1)
        assert (a["rotation"] == b["rotation"]).mean() < 0.01


# ----------------------------------------------------------------- bad input

CFG = dpa.get_preset("mild")


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"sample_id": -1}, ValueError, "sample_id must be in [0, 2**64); got -1"),
        ({"sample_id": 2**64}, ValueError, "sample_id must be in [0, 2**64); got 18446744073709551616"),
        ({"sample_id": 3.0}, TypeError, "sample_id must be an integer in [0, 2**64); got 3.0 of type float"),
        ({"sample_id": "3"}, TypeError, "sample_id must be an integer"),
        ({"sample_id": True}, TypeError, "sample_id must be an integer"),
        ({"sample_id": 0, "epoch": -1}, ValueError, "epoch must be in [0, 2**32); got -1"),
        ({"sample_id": 0, "epoch": 2**32}, ValueError, "epoch must be in [0, 2**32)"),
        ({"sample_id": 0, "seed": -1}, ValueError, "seed must be in [0, 2**64); got -1"),
        ({"sample_id": 0, "seed": 2**64}, ValueError, "seed must be in [0, 2**64)"),
        ({"sample_id": 0, "seed": 1.5}, TypeError, "seed must be an integer"),
    ],
)
def test_scalar_bad_input(kwargs, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        dpa.gen_augmentation_params(config=CFG, **kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("bad", [{"seed": True}, {"seed": 1.0}, {"epoch": True}, {"epoch": 1.0}])
def test_bad_seed_or_epoch_right_after_a_good_call_with_an_equal_value(bad: dict) -> None:
    """The one-sample path reuses the last call's plan; a bool or float equal to its seed must not slip through."""
    good = {"seed": 1, "epoch": 1}
    dpa.gen_augmentation_params(0, CFG, **good)
    with pytest.raises(TypeError, match="must be an integer"):
        dpa.gen_augmentation_params(0, CFG, **{**good, **bad})


def test_numpy_integer_ids_seeds_and_epochs_are_accepted() -> None:
    ref = dpa.gen_augmentation_params(5, CFG, seed=2, epoch=3)
    assert dpa.gen_augmentation_params(np.uint64(5), CFG, seed=np.int64(2), epoch=np.uint32(3)) == ref


@pytest.mark.parametrize(
    "ids, kwargs, exc, fragment",
    [
        ([0, -1], {}, ValueError, "sample_ids[1] must be in [0, 2**64); got -1"),
        ([0, 2**64], {}, ValueError, "sample_ids[1] must be in [0, 2**64)"),
        ([0, 1.0], {}, TypeError, "sample_ids[1] must be an integer"),
        ([True], {}, TypeError, "sample_ids[0] must be an integer"),
        (np.array([3, -2]), {}, ValueError, "sample_ids[1] must be in [0, 2**64); got -2"),
        (np.array([1.0, 2.0]), {}, TypeError, "got an array of dtype float64"),
        (np.zeros((2, 2), dtype=np.uint64), {}, ValueError, "sample_ids must be 1-D; got shape (2, 2)"),
        (range(-2, 3), {}, ValueError, "the range contains -2"),
        ("0123", {}, TypeError, "sample_ids must be a list, range"),
        (5, {}, TypeError, "use gen_augmentation_params for one sample"),
        ([0], {"backend": "jax"}, ValueError, "backend must be one of ['numpy', 'torch']; got 'jax'"),
        ([0], {"device": "cuda"}, ValueError, "needs backend='torch'"),
        ([0], {"seed": -3}, ValueError, "seed must be in [0, 2**64); got -3"),
        ([0], {"epoch": 2**32}, ValueError, "epoch must be in [0, 2**32)"),
    ],
)
def test_batch_bad_input(ids, kwargs, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        dpa.gen_augmentation_batch(ids, CFG, **kwargs)
    assert fragment in str(info.value)


def test_config_must_be_a_config() -> None:
    with pytest.raises(TypeError, match="config must be an AugmentationConfig"):
        dpa.gen_augmentation_params(0, "moderate")


@requires_torch
def test_torch_bad_input() -> None:
    import torch

    with pytest.raises(ValueError, match=r"sample_ids\[1\] must be in \[0, 2\*\*64\); got -4"):
        dpa.gen_augmentation_batch(torch.tensor([1, -4]), CFG, backend="torch")
    with pytest.raises(TypeError, match="dtype torch.float32"):
        dpa.gen_augmentation_batch(torch.tensor([1.0]), CFG)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
            dpa.gen_augmentation_batch([0], CFG, backend="torch", device="cuda")


@pytest.mark.skipif(HAS_TORCH, reason="checks the message when torch is absent")
def test_torch_backend_without_torch() -> None:
    with pytest.raises(ValueError, match="needs PyTorch"):
        dpa.gen_augmentation_batch([0], CFG, backend="torch")


def _owned_bytes(arr: np.ndarray) -> int:
    """Bytes an array keeps alive: its own buffer, or its base's."""
    base = arr
    while isinstance(base.base, np.ndarray):
        base = base.base
    return base.nbytes


@pytest.mark.parametrize("n", [0, 1, 1000, 300_000])
def test_each_returned_array_is_its_own_allocation(n: int, kernel: str) -> None:
    """Keeping b["hflip"] must not keep the other outputs alive (they were views of one buffer)."""
    cfg = dpa.get_preset("moderate")
    for b in (dpa.gen_augmentation_batch(range(n), cfg), next(iter(dpa.stream_augmentation_chunks(max(n, 1), cfg, chunk_size=max(n, 1)))).params):
        arrays = list(b.values())
        for i, x in enumerate(arrays):
            assert x.flags.c_contiguous and x.flags.writeable
            assert _owned_bytes(x) <= x.nbytes + (1 << 21)  # at most its own bytes and a 2 MiB alignment margin
            for y in arrays[i + 1 :]:
                assert not np.shares_memory(x, y)


@requires_torch
def test_torch_tensors_are_their_own_allocations() -> None:
    import torch

    b = dpa.gen_augmentation_batch(range(300_000), dpa.get_preset("moderate"), backend="torch")
    for t in b.values():
        assert isinstance(t, torch.Tensor) and t.untyped_storage().nbytes() <= t.nbytes + (1 << 21)


@requires_torch
def test_devices_without_data_are_refused() -> None:
    with pytest.raises(ValueError, match="device must be a CPU or CUDA device; got 'meta'"):
        dpa.gen_augmentation_batch([0], CFG, backend="torch", device="meta")
