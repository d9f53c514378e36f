"""dpa.integrations.kornia with the real kornia 0.9: determinism, batch invariance, rates, config, refusals, agreement."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
K = pytest.importorskip("kornia.augmentation")

import kornia  # noqa: E402

import dpa.apply as A  # noqa: E402
from dpa.integrations._common import UnsupportedTransformError  # noqa: E402
from dpa.integrations._version import UnsupportedVersionError  # noqa: E402
from dpa.integrations.kornia import deterministic  # noqa: E402

CUDA = torch.cuda.is_available()


def pipeline(**kw):
    """Every supported kind of transform at once (small images keep it fast)."""
    return K.AugmentationSequential(
        K.RandomResizedCrop((20, 24), scale=(0.4, 1.0), ratio=(0.7, 1.4)),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(p=0.3),
        K.RandomAffine(degrees=20, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=8, p=0.8),
        K.RandomRotation(15.0, p=0.5),
        K.ColorJitter(0.3, 0.3, 0.3, 0.05, p=0.8),
        K.ColorJiggle(0.2, 0.2, 0.2, 0.02, p=0.5),
        K.RandomGaussianBlur((5, 5), (0.2, 1.5), p=0.5),
        K.RandomGaussianNoise(std=0.03, p=0.5),
        K.RandomErasing(p=0.5),
        K.RandomGrayscale(p=0.2),
        K.RandomCrop((16, 16), padding=2),
        **kw,
    )


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(7)
    return torch.rand(12, 3, 24, 28, generator=g)


def reseed_everything(k: int) -> None:
    torch.manual_seed(k)
    np.random.seed(k)
    random.seed(k)


# --------------------------------------------------------------------------- determinism


def test_repeated_calls_identical_whatever_the_global_rng(images):
    dk = deterministic(pipeline(), seed=11)
    ids = list(range(100, 112))
    reseed_everything(1)
    a = dk(images, sample_ids=ids, epoch=3)
    reseed_everything(2)
    torch.rand(1000)
    b = dk(images, sample_ids=ids, epoch=3)
    assert torch.equal(a, b)


def test_the_global_torch_rng_is_never_consulted(images):
    dk = deterministic(pipeline(), seed=11)
    state = torch.get_rng_state()
    dk(images, sample_ids=range(12), epoch=0)
    assert torch.equal(state, torch.get_rng_state())


def test_epochs_and_seeds_differ(images):
    dk = deterministic(pipeline(), seed=11)
    a = dk(images, sample_ids=range(12), epoch=0)
    b = dk(images, sample_ids=range(12), epoch=1)
    c = deterministic(pipeline(), seed=12)(images, sample_ids=range(12), epoch=0)
    assert (a - b).flatten(1).abs().amax(1).gt(1e-3).all()
    assert (a - c).flatten(1).abs().amax(1).gt(1e-3).all()


def test_a_copy_is_taken(images):
    aug = K.RandomAffine(degrees=10.0, p=1.0)
    dk = deterministic(aug, seed=0)
    before = dk(images, sample_ids=range(12), epoch=0)
    aug._param_generator.degrees = 90.0  # the user's object changes later...
    assert torch.equal(before, dk(images, sample_ids=range(12), epoch=0))  # ...the wrapper does not


# --------------------------------------------------------------------------- batch invariance


def per_sample(dk, x, ids, epoch=0):
    return torch.cat([dk(x[i : i + 1], sample_ids=[ids[i]], epoch=epoch) for i in range(len(ids))])


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if CUDA else []))
def test_a_sample_does_not_depend_on_its_batch(images, device):
    dk = deterministic(pipeline(), seed=5)
    x = images.to(device)
    ids = [3, 2**63 + 9, 7, 0, 2**64 - 1, 41, 5, 8, 13, 21, 34, 55]
    full = dk(x, sample_ids=ids, epoch=2)
    # one at a time
    torch.testing.assert_close(full, per_sample(dk, x, ids, 2), atol=1e-5, rtol=0)
    # shuffled order
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    shuffled = dk(x[perm.to(device)], sample_ids=[ids[i] for i in perm.tolist()], epoch=2)
    torch.testing.assert_close(shuffled, full[perm.to(device)], atol=1e-5, rtol=0)
    # other sizes and compositions: a subset, and the subset next to strangers
    sub = [1, 4, 9]
    part = dk(x[sub], sample_ids=[ids[i] for i in sub], epoch=2)
    torch.testing.assert_close(part, full[sub], atol=1e-5, rtol=0)
    strangers = torch.rand(5, *x.shape[1:], generator=torch.Generator().manual_seed(3)).to(device)
    mixed = dk(torch.cat([strangers, x[sub]]), sample_ids=[900, 901, 902, 903, 904] + [ids[i] for i in sub], epoch=2)
    torch.testing.assert_close(mixed[5:], full[sub], atol=1e-5, rtol=0)


@pytest.mark.skipif(not CUDA, reason="no CUDA device here")
def test_cuda_matches_cpu(images):
    dk = deterministic(pipeline(), seed=5)
    cpu = dk(images, sample_ids=range(12), epoch=1)
    gpu = dk(images.cuda(), sample_ids=range(12), epoch=1).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-5, rtol=0)


def test_one_image_and_an_int_id(images):
    dk = deterministic(pipeline(), seed=5)
    one = dk(images[4], sample_ids=77, epoch=0)
    assert torch.equal(one, dk(images[4:5], sample_ids=[77], epoch=0))


def test_file_paths_as_sample_ids(images):
    """A batch keyed by file paths (a DataLoader collates them into a list) gets the ids dpa.sample_id_from_key gives,
    as the torchvision adapter's string keys do."""
    import dpa

    dk = deterministic(pipeline(), seed=5)
    paths = [f"train/cat/{k:04d}.jpg" for k in range(12)]
    ids = [dpa.sample_id_from_key(p) for p in paths]
    assert torch.equal(dk(images, sample_ids=paths, epoch=2), dk(images, sample_ids=ids, epoch=2))
    assert torch.equal(dk(images[3], sample_ids=paths[3], epoch=2), dk(images[3:4], sample_ids=ids[3:4], epoch=2))
    assert dk.params(tuple(paths), 2).keys() == dk.params(ids, 2).keys()


def test_masks_and_boxes_follow_the_image_and_their_batch():
    # A white rectangle on black: its mask is the image itself, its box the rectangle.
    n = 16
    x = torch.zeros(n, 1, 32, 32)
    x[:, :, 8:20, 10:26] = 1.0
    boxes = torch.tensor([[[10.0, 8.0, 25.0, 19.0]]]).repeat(n, 1, 1)  # xyxy, inclusive corners
    aug = K.AugmentationSequential(
        K.RandomResizedCrop((32, 32), scale=(0.7, 1.0), resample="nearest"),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        K.RandomAffine(degrees=0, translate=(0.1, 0.1), scale=(0.8, 1.1), p=1.0, resample="nearest"),
        K.RandomCrop((28, 28)),
        K.RandomErasing(p=0.0),
        data_keys=["input", "mask", "bbox_xyxy"],
    )
    dk = deterministic(aug, seed=3)
    img, mask, box = dk(x, x.clone(), boxes, sample_ids=range(n), epoch=0)
    assert torch.equal(img, mask)  # the mask went through the same geometry (nearest)
    for i in range(n):
        ys, xs = torch.nonzero(img[i, 0] > 0.5, as_tuple=True)
        found = torch.tensor([xs.min(), ys.min(), xs.max(), ys.max()], dtype=torch.float32)
        assert (found - box[i, 0]).abs().max() <= 1.5, (i, found, box[i, 0])
    # and a sample's mask and box do not depend on its batch either
    img1, mask1, box1 = dk(x[5:6], x[5:6].clone(), boxes[5:6], sample_ids=[5], epoch=0)
    assert torch.equal(mask1, mask[5:6]) and torch.allclose(box1, box[5:6], atol=1e-5)


# --------------------------------------------------------------------------- rates


N_RATE = 4000


def within(count: int, n: int, p: float) -> bool:
    """``count`` successes of ``n`` within 5 standard deviations of ``n * p``."""
    return abs(count - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize(
    "aug, p, detect",
    [
        # (transform, its p, how an output shows it was applied)
        (K.RandomHorizontalFlip(p=0.3), 0.3, lambda x, y: ~torch.isclose(y, x).flatten(1).all(1)),
        (K.RandomVerticalFlip(p=0.65), 0.65, lambda x, y: ~torch.isclose(y, x).flatten(1).all(1)),
        (K.RandomErasing(p=0.4, value=0.0), 0.4, lambda x, y: (y == 0).flatten(1).any(1)),
        (K.RandomGrayscale(p=0.15), 0.15, lambda x, y: (y[:, 0] == y[:, 1]).flatten(1).all(1)),
        (K.RandomAffine(degrees=30.0, p=0.7), 0.7, lambda x, y: ~torch.isclose(y, x).flatten(1).all(1)),
        (K.RandomGaussianNoise(std=0.1, p=0.25), 0.25, lambda x, y: ~torch.isclose(y, x).flatten(1).all(1)),
    ],
    ids=["hflip", "vflip", "erasing", "grayscale", "affine", "noise"],
)
def test_apply_rates_match_p(aug, p, detect):
    g = torch.Generator().manual_seed(0)
    x = 0.1 + 0.8 * torch.rand(N_RATE, 3, 6, 6, generator=g)  # asymmetric, no zeros
    dk = deterministic(aug, seed=1)
    y = dk(x, sample_ids=range(N_RATE), epoch=0)
    applied = detect(x, y)
    assert within(int(applied.sum()), N_RATE, p), (int(applied.sum()), N_RATE * p)
    # and the image shows exactly the config's apply draws
    draws = dk.params(range(N_RATE), 0)[next(k for k in dk.config if k.endswith(".apply"))]
    assert torch.equal(applied, draws)


# --------------------------------------------------------------------------- the derived config


def spec(dk, name):
    return dk.config[name].to_dict()


def test_config_ranges_are_the_hyperparameters():
    aug = K.AugmentationSequential(
        K.RandomAffine(degrees=15.0, translate=(0.1, 0.2), scale=(0.8, 1.2, 0.9, 1.1), shear=(-5.0, 5.0, -3.0, 3.0), p=0.6),
        K.RandomRotation(degrees=(-7.0, 12.0), p=0.25),
        K.ColorJitter(brightness=0.2, contrast=(0.5, 1.5), saturation=0.4, hue=0.1),
        K.ColorJiggle(brightness=0.3, contrast=0.0, saturation=0.0, hue=0.0, p=0.9),
        K.RandomResizedCrop((8, 8), scale=(0.3, 0.9), ratio=(0.5, 2.0)),
        K.RandomGaussianBlur((3, 3), sigma=(0.1, 2.0), p=0.3),
        K.RandomErasing(scale=(0.05, 0.2), ratio=(0.5, 2.5), p=0.45),
        K.RandomHorizontalFlip(p=0.35),
    )
    dk = deterministic(aug, seed=0)
    assert spec(dk, "RandomAffine.degrees") == {"kind": "uniform", "low": -15.0, "high": 15.0, "p": 1.0}
    assert (spec(dk, "RandomAffine.translate_x")["low"], spec(dk, "RandomAffine.translate_x")["high"]) == (-0.1, 0.1)
    assert (spec(dk, "RandomAffine.translate_y")["low"], spec(dk, "RandomAffine.translate_y")["high"]) == (-0.2, 0.2)
    assert (spec(dk, "RandomAffine.scale")["low"], spec(dk, "RandomAffine.scale")["high"]) == (0.8, 1.2)
    assert (spec(dk, "RandomAffine.scale_y")["low"], spec(dk, "RandomAffine.scale_y")["high"]) == (0.9, 1.1)
    assert (spec(dk, "RandomAffine.shear_x")["low"], spec(dk, "RandomAffine.shear_x")["high"]) == (-5.0, 5.0)
    assert (spec(dk, "RandomAffine.shear_y")["low"], spec(dk, "RandomAffine.shear_y")["high"]) == (-3.0, 3.0)
    assert spec(dk, "RandomAffine.apply") == {"kind": "bernoulli", "p": 0.6}
    assert (spec(dk, "RandomRotation.degrees")["low"], spec(dk, "RandomRotation.degrees")["high"]) == (-7.0, 12.0)
    assert spec(dk, "RandomRotation.apply")["p"] == 0.25
    for name, rng in [("brightness", (0.8, 1.2)), ("contrast", (0.5, 1.5)), ("saturation", (0.6, 1.4)), ("hue", (-0.1, 0.1))]:
        s = spec(dk, f"ColorJitter.{name}")
        assert (s["low"], s["high"]) == pytest.approx(rng, abs=1e-15), name
    assert spec(dk, "ColorJitter.order") == {"kind": "permutation", "n": 4, "p": 1.0}
    assert "ColorJiggle.order" not in dk.config  # only brightness varies: the order changes nothing
    assert (spec(dk, "RandomResizedCrop.area")["low"], spec(dk, "RandomResizedCrop.area")["high"]) == (0.3, 0.9)
    assert spec(dk, "RandomResizedCrop.ratio") == {"kind": "log_uniform", "low": 0.5, "high": 2.0, "p": 1.0}
    assert (spec(dk, "RandomGaussianBlur.sigma")["low"], spec(dk, "RandomGaussianBlur.sigma")["high"]) == (0.1, 2.0)
    assert (spec(dk, "RandomErasing.area")["low"], spec(dk, "RandomErasing.area")["high"]) == (0.05, 0.2)
    assert (spec(dk, "RandomErasing.ratio_low")["low"], spec(dk, "RandomErasing.ratio_high")["high"]) == (0.5, 2.5)
    assert spec(dk, "RandomErasing.apply")["p"] == 0.45
    assert spec(dk, "RandomHorizontalFlip.apply")["p"] == 0.35


def test_drawn_values_stay_in_the_ranges():
    aug = K.AugmentationSequential(
        K.RandomAffine(degrees=15.0, translate=(0.1, 0.2), p=1.0), K.RandomResizedCrop((8, 8), scale=(0.3, 0.9))
    )
    dk = deterministic(aug, seed=0)
    params = dk.kornia_params((500, 3, 40, 30), range(500), epoch=0)
    affine, crop = params[0].data, params[1].data
    assert affine["angle"].abs().max() <= 15.0
    assert (affine["translations"][:, 0].abs() <= 0.1 * 30 + 1e-4).all()
    assert (affine["translations"][:, 1].abs() <= 0.2 * 40 + 1e-4).all()
    src = crop["src"]
    assert (src[:, 0] >= 0).all() and (src[:, 2, 0] <= 29).all() and (src[:, 2, 1] <= 39).all()
    area = (src[:, 1, 0] - src[:, 0, 0] + 1) * (src[:, 2, 1] - src[:, 0, 1] + 1) / (40 * 30)
    assert area.min() > 0.25 and area.max() < 0.95  # scale (0.3, 0.9), up to rounding to pixels


def test_the_config_works_with_dpas_tools(tmp_path):
    from dpa.distributed import assert_consistent_across_ranks

    dk = deterministic(pipeline(), seed=4)
    other = deterministic(pipeline(), seed=4)
    changed = deterministic(K.AugmentationSequential(K.RandomAffine(degrees=21.0)), seed=4)
    assert dk.config.fingerprint() == other.config.fingerprint() != changed.config.fingerprint()
    assert_consistent_across_ranks(dk.config, seed=dk.seed, epoch=0)  # one process: nothing to disagree with
    path = tmp_path / "kornia.json"
    dk.config.save(path)
    out = subprocess.run(
        [sys.executable, "-m", "dpa.cli", "inspect", "--config", str(path), "--rows", "2"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "RandomAffine.degrees" in out and dk.config.fingerprint() in out


def _rank_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    """One gloo rank: the same pipeline as the others, then one whose RandomAffine differs on rank 1."""
    import pathlib

    import torch.distributed as dist

    from dpa.distributed import RankMismatchError, assert_consistent_across_ranks

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    results = []
    for degrees in (10.0, 10.0 + rank):
        dk = deterministic(K.AugmentationSequential(K.RandomAffine(degrees), K.RandomHorizontalFlip()), seed=0)
        try:
            assert_consistent_across_ranks(dk.config, seed=dk.seed, epoch=0)
            results.append("ok")
        except RankMismatchError as exc:
            results.append(f"mismatch {exc}")
    dist.destroy_process_group()
    pathlib.Path(out_dir, f"rank{rank}.txt").write_text("\n".join(results))


def test_ranks_agree_on_the_derived_config_or_all_raise(tmp_path):
    import torch.multiprocessing as mp

    mp.start_processes(_rank_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")  # real processes; fork skips re-importing torch
    for rank in (0, 1):
        same, different = (tmp_path / f"rank{rank}.txt").read_text().split("\n")
        assert same == "ok"
        assert different.startswith("mismatch") and "config fingerprint" in different


def test_names_are_stable_and_user_chosen():
    aug = K.AugmentationSequential(K.RandomAffine(10.0), K.RandomHorizontalFlip(), K.RandomAffine(20.0))
    second = aug[2]
    dk = deterministic(aug, seed=0)
    assert [k for k in dk.config if k.endswith(".degrees")] == ["RandomAffine.degrees", "RandomAffine_2.degrees"]
    named = deterministic(aug, seed=0, names={second: "big_turn", "RandomHorizontalFlip": "flip"})
    assert {"big_turn.degrees", "flip.apply", "RandomAffine.degrees"} <= set(named.config)
    # Adding a transform of another class at the front renames nothing, so values stay.
    grown = deterministic(K.AugmentationSequential(K.RandomGrayscale(), *aug.children()), seed=0)
    a, b = dk.params(range(50), 1), grown.params(range(50), 1)
    assert torch.equal(a["RandomAffine_2.degrees"], b["RandomAffine_2.degrees"])
    with pytest.raises(ValueError, match="match no random transform"):
        deterministic(aug, seed=0, names={"RandomAffine_3": "typo"})


# --------------------------------------------------------------------------- refusals


class MyAffine(K.RandomAffine):
    pass


class AddRandomNoise(torch.nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)


@pytest.mark.parametrize(
    "make, name, why",
    [
        (lambda: K.RandomMotionBlur(3, 35.0, 0.5), "RandomMotionBlur", ""),
        (lambda: K.AugmentationSequential(K.RandomHorizontalFlip(), K.RandomPerspective()), "RandomPerspective", ""),
        (lambda: K.AugmentationSequential(AddRandomNoise()), "AddRandomNoise", ""),
        (lambda: MyAffine(10.0), "MyAffine", "subclass of RandomAffine"),
        (lambda: K.RandomAffine(10.0, same_on_batch=True), "RandomAffine", "same_on_batch"),
        (lambda: K.AugmentationSequential(K.RandomAffine(10.0), K.RandomHorizontalFlip(), random_apply=1), "AugmentationSequential", "random_apply"),
        (lambda: K.AugmentationSequential(K.RandomMixUpV2()), "RandomMixUpV2", "mixes the samples"),
        (lambda: K.AugmentationSequential(K.RandomCutMixV2()), "RandomCutMixV2", "mixes the samples"),
        (lambda: K.auto.RandAugment(n=2, m=10), "RandAugment", ""),
        (lambda: K.VideoSequential(K.RandomAffine(10.0)), "VideoSequential", ""),
    ],
    ids=["motion-blur", "perspective", "own-module", "subclass", "same-on-batch", "random-apply", "mixup", "cutmix",
         "randaugment", "video"],
)
def test_what_dpa_cannot_drive_is_refused_by_name(make, name, why):
    with pytest.raises(UnsupportedTransformError, match=name) as err:
        deterministic(make(), seed=0)
    assert why in str(err.value)


@pytest.mark.parametrize("where", ["one-sequence", "two-sequences"])
def test_the_same_augmentation_object_twice_is_refused(where):
    """One object, one name: both places would get the same values where kornia draws twice (two
    sequences), or kornia silently runs it once (one sequence: named_children skips the repeat)."""
    aff = K.RandomAffine(30.0, p=1.0)
    if where == "one-sequence":
        aug = K.AugmentationSequential(aff, K.RandomHorizontalFlip(), aff)
    else:
        aug = K.AugmentationSequential(K.ImageSequential(aff), K.ImageSequential(aff))
    with pytest.raises(ValueError, match="same RandomAffine object appears twice"):
        deterministic(aug, seed=0)
    deterministic(K.AugmentationSequential(aff, K.RandomAffine(30.0, p=1.0)), seed=0)  # two instances are fine
    blur = kornia.filters.GaussianBlur2d((3, 3), (1.0, 1.0))  # so is a module that draws nothing, in two sequences
    deterministic(K.AugmentationSequential(K.ImageSequential(blur, aff), K.ImageSequential(blur)), seed=0)


@pytest.mark.parametrize("make, name", [
    (lambda: K.RandomHorizontalFlip(p=float("nan")), "RandomHorizontalFlip"),
    (lambda: K.AugmentationSequential(K.RandomAffine(10.0), K.RandomAffine(10.0, p=float("inf"))), "RandomAffine"),
])
def test_hyperparameters_dpa_cannot_draw_name_the_transform(make, name):
    with pytest.raises(ValueError, match=f"^{name}( \\([^)]*\\))?: its hyperparameters cannot be a dpa config: "):
        deterministic(make(), seed=0)


def test_deterministic_modules_pass_through(images):
    aug = K.AugmentationSequential(
        kornia.filters.GaussianBlur2d((3, 3), (1.0, 1.0)), K.Normalize(0.5, 0.5), K.Resize((12, 14)), K.RandomHorizontalFlip()
    )
    dk = deterministic(aug, seed=0)
    assert list(dk.config) == ["RandomHorizontalFlip.apply"]
    assert dk(images, sample_ids=range(12), epoch=0).shape == (12, 3, 12, 14)
    assert deterministic(K.AugmentationSequential(K.Normalize(0.5, 0.5)), seed=0).config is None


def test_bad_calls_are_refused(images):
    dk = deterministic(pipeline(), seed=0)
    with pytest.raises(ValueError, match="one id per image"):
        dk(images, sample_ids=range(5), epoch=0)
    with pytest.raises(ValueError, match=r"sample_ids\[1\] must be in \[0, 2\*\*64\)"):
        dk(images[:2], sample_ids=[0, -1], epoch=0)
    with pytest.raises(ValueError, match=r"epoch must be in \[0, 2\*\*32\)"):
        dk(images, sample_ids=range(12), epoch=2**32)
    with pytest.raises(TypeError, match="seed must be an integer"):
        deterministic(pipeline(), seed=1.5)
    with pytest.raises(ValueError, match="changes the image size"):
        deterministic(K.RandomResizedCrop((8, 8), p=0.5), seed=0)(images, sample_ids=range(12), epoch=0)


def test_an_untested_kornia_version_is_refused(monkeypatch):
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda d: "0.10.1" if d == "kornia" else real(d))
    with pytest.raises(UnsupportedVersionError, match=r"kornia >=0.9,<0.10 .* found 0.10.1"):
        deterministic(K.RandomHorizontalFlip(), seed=0)


# --------------------------------------------------------------------------- agreement with dpa.apply


@pytest.fixture(scope="module")
def smooth():
    """Smooth images (bilinear sampling conventions then agree away from the border)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 32, 48, generator=g)
    return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect"), 5, 1)


IDS = list(range(16))


def interior(a, b, m=3):
    return (a[..., m:-m, m:-m] - b[..., m:-m, m:-m]).abs().max().item()


def test_agrees_with_dpa_apply_on_geometry(smooth):
    # RandomRotation: a positive angle turns counter-clockwise, as dpa.apply.affine's rotation.
    dk = deterministic(K.RandomRotation(20.0, p=1.0), seed=1)
    v = dk.params(IDS, 0)
    assert interior(dk(smooth, sample_ids=IDS, epoch=0), A.affine(smooth, rotation=v["RandomRotation.degrees"])) < 2e-5
    # RandomAffine: a positive angle turns clockwise, and shear_x has the opposite sign of dpa's shear.
    dk = deterministic(K.RandomAffine(20.0, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-10.0, 10.0), p=1.0), seed=1)
    v = dk.params(IDS, 0)
    ref = A.affine(
        smooth, rotation=-v["RandomAffine.degrees"], scale=v["RandomAffine.scale"], translate_x=v["RandomAffine.translate_x"],
        translate_y=v["RandomAffine.translate_y"], shear=-v["RandomAffine.shear_x"],
    )
    assert interior(dk(smooth, sample_ids=IDS, epoch=0), ref) < 2e-5
    # Flips: identical.
    dk = deterministic(K.RandomHorizontalFlip(p=0.5), seed=1)
    assert torch.equal(dk(smooth, sample_ids=IDS, epoch=0), A.hflip(smooth, dk.params(IDS, 0)["RandomHorizontalFlip.apply"]))


def test_agrees_with_dpa_apply_on_crops_and_erasing(smooth):
    # RandomResizedCrop crops whole pixels: its box in dpa.apply's fractions is (x0 / W, y0 / H, w / W, h / H).
    dk = deterministic(K.RandomResizedCrop((32, 48), scale=(0.3, 1.0), align_corners=False), seed=1)
    src = dk.kornia_params(smooth.shape, IDS, 0)["src"]
    x0, y0 = src[:, 0, 0], src[:, 0, 1]
    w, h = src[:, 1, 0] - x0 + 1, src[:, 2, 1] - y0 + 1
    ref = A.resized_crop(smooth, x0 / 48, y0 / 32, w / 48, h / 32)
    # Both sample at pixel centres; at the crop's border kornia repeats its edge pixel where dpa reads the next one.
    assert interior(dk(smooth, sample_ids=IDS, epoch=0), ref, m=2) < 2e-5
    dk = deterministic(K.RandomErasing(p=1.0), seed=1)
    p = dk.kornia_params(smooth.shape, IDS, 0)
    ref = A.erase(smooth, p["xs"] / 48, p["ys"] / 32, p["widths"] / 48, p["heights"] / 32)
    assert torch.equal(dk(smooth, sample_ids=IDS, epoch=0), ref)


def test_agrees_with_dpa_apply_on_colour_blur_noise(smooth):
    dk = deterministic(K.ColorJitter(0.3, 0.3, 0.3, 0.05, p=1.0), seed=1)
    v = dk.params(IDS, 0)
    order = dk.kornia_params(smooth.shape, IDS, 0)["order"]
    ref = A.apply_params(
        smooth,
        {**{op: v[f"ColorJitter.{op}"] for op in A.COLOR_OPS}, **{f"color_order_{i}": order[:, i] for i in range(4)}},
    )
    assert (dk(smooth, sample_ids=IDS, epoch=0) - ref).abs().max() < 5e-5
    dk = deterministic(K.RandomGaussianBlur((7, 7), (0.7, 1.0), p=1.0), seed=1)  # dpa's kernel: 2 * ceil(3 sigma) + 1 = 7
    ref = A.gaussian_blur(smooth, dk.params(IDS, 0)["RandomGaussianBlur.sigma"])
    assert (dk(smooth, sample_ids=IDS, epoch=0) - ref).abs().max() < 1e-5
    mid = 0.3 + 0.4 * smooth  # away from 0 and 1, where dpa.apply clamps and kornia does not
    dk = deterministic(K.RandomGaussianNoise(std=0.02, p=1.0), seed=1)
    ref = A.gaussian_noise(mid, 0.02, IDS, seed=1, epoch=0)  # the first noise transform: the run's own seed
    assert dk.noise_seed("RandomGaussianNoise") == 1
    assert (dk(mid, sample_ids=IDS, epoch=0) - ref).abs().max() < 1e-6
    # A second noise transform has a field of its own.
    two = deterministic(K.AugmentationSequential(K.RandomGaussianNoise(std=0.02, p=1.0), K.RandomGaussianNoise(std=0.02, p=1.0)),
                        seed=1)
    second = two.noise_seed("RandomGaussianNoise_2")
    assert second != 1
    ref2 = A.gaussian_noise(ref, 0.02, IDS, seed=second, epoch=0)
    assert (two(mid, sample_ids=IDS, epoch=0) - ref2).abs().max() < 1e-6
    with pytest.raises(KeyError, match="no Gaussian-noise transform is named 'RandomAffine'"):
        two.noise_seed("RandomAffine")


def test_the_readme_snippet_runs():
    from tests.test_readme import block_starting

    namespace: dict = {}
    exec(compile(block_starting("import torch\nimport kornia.augmentation as K\n"), "README.md", "exec"), namespace)
    assert namespace["images"].shape == (8, 3, 224, 224) and namespace["masks"].shape == (8, 1, 224, 224)
    assert "RandomResizedCrop.area" in namespace["dk"].config


@pytest.mark.parametrize("name", ["dpa.integrations.kornia", "dpa.integrations._version"])
def test_docstring_examples(name):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS).failed == 0
