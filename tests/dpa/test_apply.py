"""dpa.apply: identities are exact, geometry and colour formulas hold, batched == per image."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dpa  # noqa: E402
from dpa import apply as A  # noqa: E402

IDENTITY = {
    "hflip": False, "vflip": False, "rotation": 0.0, "scale": 1.0, "translate_x": 0.0, "translate_y": 0.0, "shear": 0.0,
    "brightness": 1.0, "contrast": 1.0, "saturation": 1.0, "hue": 0.0,
    "color_order_0": 2, "color_order_1": 0, "color_order_2": 3, "color_order_3": 1,
    "crop_x": 0.0, "crop_y": 0.0, "crop_w": 1.0, "crop_h": 1.0, "blur_sigma": 0.0, "noise_std": 0.0,
    "erasing_x": 0.0, "erasing_y": 0.0, "erasing_w": 0.0, "erasing_h": 0.0,
}


def images(dtype=torch.float32, n=4, h=20, w=24) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, h, w, generator=g)
    return (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_identity_params_give_the_input_back_exactly(dtype) -> None:
    x = images(dtype)
    assert torch.equal(A.apply_params(x, IDENTITY, sample_ids=[0, 1, 2, 3]), x)
    batched = {k: torch.tensor([v] * 4) for k, v in IDENTITY.items()}
    assert torch.equal(A.apply_params(x, batched, sample_ids=torch.arange(4)), x)
    assert torch.equal(A.apply_params(x[0], IDENTITY, sample_ids=0), x[0])


def test_flip_twice_is_identity() -> None:
    x = images()
    assert torch.equal(A.hflip(A.hflip(x, True), True), x)
    assert torch.equal(A.vflip(A.vflip(x, True), True), x)
    assert torch.equal(A.hflip(x, torch.tensor([True, False, True, False]))[1], x[1])


def test_rotation_by_90_degrees_matches_rot90() -> None:
    x = images(torch.float64, h=16, w=16)
    assert torch.allclose(A.affine(x, 90.0), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-6)
    assert torch.allclose(A.affine(x, -90.0), torch.rot90(x, -1, dims=(-2, -1)), atol=1e-6)


def test_translation_and_crop_geometry() -> None:
    x = images(torch.float64, h=16, w=16)
    t = A.affine(x, translate_x=2 / 16)
    assert torch.allclose(t[..., 2:], x[..., :-2]) and torch.all(t[..., :2] == 0)
    # The right half, resized back to full width by 2x, samples between columns.
    c = A.resized_crop(x, 0.5, 0.0, 0.5, 1.0)
    assert torch.allclose(c[..., 1::2][..., :-1], (0.75 * x[..., 8:15] + 0.25 * x[..., 9:16]), atol=1e-6)


def test_colour_formulas_on_known_values() -> None:
    x = torch.tensor([[[[0.2, 0.6]], [[0.4, 0.4]], [[0.1, 0.9]]]])  # (1, 3, 1, 2)
    assert torch.allclose(A.adjust_brightness(x, 1.5), (x * 1.5).clamp(0, 1))
    gray = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    mean = gray.mean()
    assert torch.allclose(A.adjust_contrast(x, 0.5), (0.5 * x + 0.5 * mean).clamp(0, 1))
    assert torch.allclose(A.adjust_saturation(x, 0.0), gray.unsqueeze(1).expand_as(x))
    full = A.adjust_hue(A.adjust_hue(x, 0.25), -0.25)
    assert torch.allclose(full, x, atol=1e-6)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert torch.allclose(A.adjust_hue(red, 1 / 3), torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1), atol=1e-6)


def test_blur_and_erasing() -> None:
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    y = A.gaussian_blur(x, 1.0)
    assert abs(float(y.sum()) - 1.0) < 1e-5 and float(y[0, 0, 4, 4]) < 1.0
    assert torch.allclose(y[0, 0], y[0, 0].t())  # isotropic
    e = A.erase(torch.ones(1, 1, 10, 10), 0.2, 0.3, 0.5, 0.4)
    assert int((e == 0).sum()) == 5 * 4 and float(e[0, 0, 3, 2]) == 0.0 and float(e[0, 0, 2, 2]) == 1.0


def test_noise_field_is_per_sample_and_reproducible() -> None:
    both = A.noise_field((2, 3, 5, 7), [11, 12], seed=3, epoch=1)
    one = A.noise_field((1, 3, 5, 7), [12], seed=3, epoch=1)
    assert torch.equal(both[1], one[0])
    assert not torch.equal(A.noise_field((1, 3, 5, 7), [12], seed=3, epoch=2), one)
    big = A.noise_field((2, 3, 64, 64), [1, 2])
    assert abs(float(big.mean())) < 0.05 and abs(float(big.std()) - 1) < 0.05


EXECUTORS = ["numpy", "torch"] + (["compiled"] if dpa.prng.compiled_kernel() is not None else [])


@pytest.mark.parametrize("shape", [(4, 1), (4, 2), (4, 33), (4, 3, 7, 5), (2, 3, 32, 33), (3, 1, 40_001), (0, 5), (2, 0)])
def test_noise_field_is_the_same_on_every_executor(shape) -> None:
    """compiled == numpy == torch (the torch code is what runs on a GPU), bit for bit, odd sizes and chunk edges too."""
    ids = [0, 7, 2**63, 2**64 - 1][: shape[0]]
    for seed, epoch, name in ((0, 0, "noise_field"), (2**64 - 1, 2**32 - 1, "noise_field"), (12345, 3, "other")):
        fields = [A.noise_field(shape, ids, seed, epoch, name=name, executor=ex) for ex in EXECUTORS]
        for ex, z in zip(EXECUTORS, fields):
            assert z.dtype == torch.float64 and tuple(z.shape) == shape, ex
            assert torch.equal(z.view(torch.int64), fields[0].view(torch.int64)), (ex, shape, seed)


@settings(max_examples=25, deadline=None)
@given(
    ids=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=3),
    per=st.integers(1, 3000),
    seed=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 2**32 - 1),
)
def test_noise_field_executors_agree_on_random_streams(ids, per, seed, epoch) -> None:
    fields = [A.noise_field((len(ids), per), ids, seed, epoch, executor=ex) for ex in EXECUTORS]
    for ex, z in zip(EXECUTORS, fields):
        assert torch.equal(z.view(torch.int64), fields[0].view(torch.int64)), ex


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_gaussian_noise_is_the_same_whichever_executor_made_the_field(dtype, monkeypatch) -> None:
    """The default executor (compiled where built) gives what numpy gives, on every image dtype."""
    x = torch.rand(3, 3, 16, 17, generator=torch.Generator().manual_seed(0))
    x = (x * 255).round().to(dtype) if dtype == torch.uint8 else x.to(dtype)
    std = torch.tensor([0.0, 0.1, 0.3], dtype=torch.float64)
    got = A.gaussian_noise(x, std, [5, 6, 7], seed=9, epoch=2)
    z = A.noise_field(tuple(x.shape), [5, 6, 7], 9, 2, executor="numpy")
    xf = x.float() / 255.0 if dtype == torch.uint8 else x
    want = (xf + std.to(xf.dtype).view(-1, 1, 1, 1) * z.to(xf.dtype)).clamp(0.0, 1.0)
    want = (want * 255.0).round().clamp(0, 255).to(torch.uint8) if dtype == torch.uint8 else want
    want[0] = x[0]
    assert torch.equal(got, want)


def test_noise_field_executor_is_checked() -> None:
    with pytest.raises(ValueError, match="executor must be None or one of"):
        A.noise_field((1, 2), [0], executor="cuda")


BATCH_IDS = list(range(1000, 1064))  # 64 ids: every gate of every preset opens and stays shut (checked below)


def blur_radius(sigma: torch.Tensor) -> list[int]:
    """dpa.apply's documented kernel radius, ceil(3 sigma) in [1, 15]."""
    return torch.clamp(torch.ceil(3.0 * sigma.double()), 1, 15).long().tolist()


def _per_image(x, config, ids, seed=1):
    return torch.stack([
        A.apply_params(x[k], dpa.gen_augmentation_params(sid, config, seed=seed), sample_ids=sid, seed=seed)
        for k, sid in enumerate(ids)
    ])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
@pytest.mark.parametrize("preset", dpa.preset_names())
def test_batched_equals_per_image(preset: str, dtype) -> None:
    """An image's result does not depend on the other images of its batch (within 1e-6; uint8 exactly).

    float64 images too: a lone image's params are Python floats, which must reach the ops at
    float64 precision (not through torch's float32 default dtype) to equal the batch's tensors.
    """
    config = dpa.get_preset(preset)
    x = images(dtype, n=len(BATCH_IDS))
    batch = dpa.gen_augmentation_batch(BATCH_IDS, config, seed=1, backend="torch")
    # The ids reach every branch: each optional op both applied and not, blur with several radii in one batch.
    for out in config.outputs:
        if out.dtype != "int" and out.identity is not None and out.name != "color_order_0":
            hit = batch[out.name] != out.identity
            assert bool(hit.any()) and (bool((~hit).any()) or config[out.param].p == 1.0), out.name
    if "blur_sigma" in batch:
        sigmas = batch["blur_sigma"][batch["blur_sigma"] > 0]
        assert len(set(blur_radius(sigmas))) >= 3
    out = A.apply_params(x, batch, sample_ids=BATCH_IDS, seed=1)
    assert out.shape == x.shape and out.dtype == x.dtype
    one = _per_image(x, config, BATCH_IDS)
    if dtype == torch.uint8:
        assert torch.equal(one, out), preset
    else:
        torch.testing.assert_close(one, out, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_batched_equals_per_image_on_large_images(dtype) -> None:
    """Large enough (200 x 200) that torch splits one image's reductions across threads but not a batch's."""
    ids = [3, 4, 5, 6, 9]
    config = dpa.get_preset("aggressive")
    x = images(dtype, n=len(ids), h=200, w=200)
    out = A.apply_params(x, dpa.gen_augmentation_batch(ids, config, seed=1, backend="torch"), sample_ids=ids, seed=1)
    one = _per_image(x, config, ids)
    if dtype == torch.uint8:
        assert torch.equal(one, out)
    else:
        torch.testing.assert_close(one, out, atol=1e-6, rtol=0)


def test_blur_radius_is_per_image() -> None:
    """A small sigma is blurred with its own kernel, not with the batch's largest (the old 2.3e-4 difference)."""
    x = images(n=2, h=32, w=32)
    s = torch.tensor([0.4, 2.0])
    both = A.gaussian_blur(x, s)
    assert torch.equal(both[0], A.gaussian_blur(x[0], 0.4))
    assert torch.equal(both[1], A.gaussian_blur(x[1], 2.0))
    assert blur_radius(s) == [2, 6]


def test_cpu_equals_cuda() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    ids = list(range(8))
    x = images(n=8)
    p = dpa.gen_augmentation_batch(ids, dpa.get_preset("aggressive"), backend="torch")
    cpu = A.apply_params(x, p, sample_ids=ids)
    gpu = A.apply_params(x.cuda(), {k: v.cuda() for k, v in p.items()}, sample_ids=ids)
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)
    assert torch.equal(A.noise_field((8, 3, 8, 8), ids), A.noise_field((8, 3, 8, 8), ids, device="cuda").cpu())


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: A.apply_params(torch.zeros(3, 3), IDENTITY), ValueError, "shape (C, H, W) or (B, C, H, W); got (3, 3)"),
        (lambda: A.apply_params(torch.zeros(1, 3, 4, 4, dtype=torch.int32), IDENTITY), TypeError, "uint8 or floating point"),
        (lambda: A.apply_params([[0.0]], IDENTITY), TypeError, "must be a torch.Tensor"),
        (lambda: A.apply_params(torch.zeros(1, 3, 4, 4), {"crop_x": 0.0}), ValueError, "miss ['crop_y', 'crop_w', 'crop_h']"),
        (lambda: A.apply_params(torch.zeros(2, 3, 4, 4), {"rotation": torch.zeros(3)}), ValueError,
         "parameter 'rotation' must be a number or have one value per image (2); got shape (3,)"),
        (lambda: A.apply_params(torch.zeros(1, 3, 4, 4), {"noise_std": 0.1}), ValueError, "got no sample_ids"),
        (lambda: A.apply_params(torch.zeros(1, 3, 4, 4), [1]), TypeError, "params must be a mapping"),
        (lambda: A.adjust_hue(torch.zeros(1, 3, 4, 4), 0.7), ValueError, "'hue' must be in [-0.5, 0.5]"),
        (lambda: A.resized_crop(torch.zeros(1, 3, 4, 4), 0.5, 0, 0.6, 1), ValueError, "crop box must lie inside the image"),
        (lambda: A.gaussian_noise(torch.zeros(2, 3, 4, 4), 0.1, [1]), ValueError, "one id per image (2); got 1"),
    ],
)
def test_bad_input(call, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


def test_noise_fields_with_different_names_are_independent() -> None:
    default = A.noise_field((1, 3, 8, 8), [5], seed=2)
    assert torch.equal(A.noise_field((1, 3, 8, 8), [5], seed=2, name="noise_field"), default)
    other = A.noise_field((1, 3, 8, 8), [5], seed=2, name="GaussianNoise.noise")
    assert not torch.equal(other, default)
    assert abs(float(torch.corrcoef(torch.stack([other.flatten(), default.flatten()]))[0, 1])) < 0.2
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        A.noise_field((1, 3, 8, 8), [5], name="")


def test_docstring_examples() -> None:
    import doctest

    assert doctest.testmod(A, optionflags=doctest.ELLIPSIS).failed == 0
