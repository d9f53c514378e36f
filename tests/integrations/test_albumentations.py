"""dpa.integrations.albumentations with the real albumentations 2.0.8: determinism, rates, config, refusals, targets."""

from __future__ import annotations

import math
import pickle
import random
import warnings

import numpy as np
import pytest

Al = pytest.importorskip("albumentations")
cv2 = pytest.importorskip("cv2")

from dpa.integrations._common import UnsupportedTransformError  # noqa: E402
from dpa.integrations._version import UnsupportedVersionError  # noqa: E402
from dpa.integrations.albumentations import deterministic  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # ShiftScaleRotate's "use Affine" notice


def pipeline(**kw):
    """Every supported kind of transform and container."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Al.Compose(
            [
                Al.RandomResizedCrop((24, 28), scale=(0.4, 1.0)),
                Al.HorizontalFlip(),
                Al.VerticalFlip(p=0.2),
                Al.OneOf(
                    [
                        Al.Affine(rotate=(-20, 20), translate_percent=(-0.1, 0.1), scale=(0.9, 1.1), shear=(-5, 5)),
                        Al.Rotate(limit=30),
                        Al.ShiftScaleRotate(),
                    ],
                    p=0.8,
                ),
                Al.SomeOf([Al.ColorJitter(p=1.0), Al.RandomBrightnessContrast(p=1.0), Al.HueSaturationValue(p=1.0)], n=2),
                Al.GaussianBlur(p=0.3),
                Al.GaussNoise(p=0.3),
                Al.CoarseDropout(p=0.5),
            ],
            **kw,
        )


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(0).random((32, 40, 3)) * 255).astype(np.uint8)


def reseed_everything(k: int) -> None:
    random.seed(k)
    np.random.seed(k)
    cv2.setRNGSeed(k)
    try:
        import torch

        torch.manual_seed(k)
    except ImportError:
        pass


# --------------------------------------------------------------------------- determinism


def test_repeated_calls_identical_whatever_the_global_rng(image):
    da = deterministic(pipeline(), seed=3)
    for sid in range(30):
        reseed_everything(sid)
        a = da(image=image, sample_id=sid, epoch=2)["image"]
        reseed_everything(1000 + sid)
        random.random(), np.random.random()
        b = da(image=image, sample_id=sid, epoch=2)["image"]
        assert np.array_equal(a, b), sid


def test_no_global_or_per_transform_rng_is_consulted(image):
    comp = pipeline()
    before = (random.getstate(), np.random.get_state()[1].copy(), comp.py_random.getstate(),
              comp.random_generator.bit_generator.state)
    da = deterministic(comp, seed=3)
    for sid in range(30):
        da(image=image, sample_id=sid, epoch=0)
    after = (random.getstate(), np.random.get_state()[1], comp.py_random.getstate(), comp.random_generator.bit_generator.state)
    assert before[0] == after[0] and np.array_equal(before[1], after[1])
    assert before[2] == after[2] and before[3] == after[3]
    # dpa's copy has no RNG at all: a draw it did not replace would raise, not be random
    with pytest.raises(RuntimeError, match="RNG"):
        da.transform.transforms[1].py_random.random()


def test_epochs_seeds_and_ids_differ(image):
    da = deterministic(pipeline(), seed=3)
    other = deterministic(pipeline(), seed=4)
    a = [da(image=image, sample_id=i, epoch=0)["image"] for i in range(20)]
    b = [da(image=image, sample_id=i, epoch=1)["image"] for i in range(20)]
    c = [other(image=image, sample_id=i, epoch=0)["image"] for i in range(20)]
    assert sum(not np.array_equal(x, y) for x, y in zip(a, b)) >= 18
    assert sum(not np.array_equal(x, y) for x, y in zip(a, c)) >= 18
    assert len({x.tobytes() for x in a}) >= 18


def test_file_paths_as_sample_ids(image):
    """A string key maps to dpa.sample_id_from_key's id, as in the torchvision adapter."""
    import dpa

    da = deterministic(Al.Compose([Al.Affine(rotate=(-30, 30), p=1.0), Al.GaussNoise(p=1.0)]), seed=3)
    key = "train/cat/0001.jpg"
    sid = dpa.sample_id_from_key(key)
    assert np.array_equal(da(image=image, sample_id=key, epoch=1)["image"], da(image=image, sample_id=sid, epoch=1)["image"])
    assert da.params(key, 1) == da.params(sid, 1)


def test_a_copy_is_taken_and_it_pickles(image):
    comp = Al.Compose([Al.Affine(rotate=(-10, 10), p=1.0)])
    da = deterministic(comp, seed=0)
    before = da(image=image, sample_id=5, epoch=0)["image"]
    comp.transforms[0].rotate = (80.0, 90.0)
    assert np.array_equal(before, da(image=image, sample_id=5, epoch=0)["image"])
    again = pickle.loads(pickle.dumps(da))
    assert np.array_equal(before, again(image=image, sample_id=5, epoch=0)["image"])


def test_same_results_in_dataloader_workers(image):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, Dataset

    da = deterministic(pipeline(), seed=9)

    class Images(Dataset):
        def __len__(self):
            return 24

        def __getitem__(self, i):
            return i, torch.from_numpy(da(image=image, sample_id=i, epoch=1)["image"])

    here = torch.stack([Images()[i][1] for i in range(24)])
    got = torch.zeros_like(here)
    for index, images in DataLoader(Images(), batch_size=5, num_workers=2, shuffle=True):
        got[index] = images
    assert torch.equal(got, here)


# --------------------------------------------------------------------------- rates


N_RATE = 3000


def within(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1


@pytest.fixture(scope="module")
def tiny():
    return (np.random.default_rng(1).random((4, 6, 3)) * 200 + 20).astype(np.uint8)  # asymmetric, no zeros


@pytest.mark.parametrize(
    "t, p, detect",
    [
        (Al.HorizontalFlip(p=0.3), 0.3, lambda x, y: not np.array_equal(x, y)),
        (Al.VerticalFlip(p=0.7), 0.7, lambda x, y: not np.array_equal(x, y)),
        (Al.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(1, 2), hole_width_range=(1, 2), fill=0, p=0.4), 0.4,
         lambda x, y: bool((y == 0).any())),
        (Al.ToGray(p=0.2), 0.2, lambda x, y: bool((y[..., 0] == y[..., 1]).all() and (y[..., 1] == y[..., 2]).all())),
    ],
    ids=["hflip", "vflip", "dropout", "togray"],
)
def test_apply_rates_match_p(tiny, t, p, detect):
    da = deterministic(Al.Compose([t]), seed=2)
    applied = [detect(tiny, da(image=tiny, sample_id=i, epoch=0)["image"]) for i in range(N_RATE)]
    assert within(sum(applied), N_RATE, p), (sum(applied), N_RATE * p)
    draws = [da.params(i, 0)[f"{type(t).__name__}.apply"] for i in range(N_RATE)]
    assert applied == draws


def test_oneof_and_someof_choose_at_the_right_rates(tiny):
    comp = Al.Compose(
        [
            Al.OneOf([Al.HorizontalFlip(p=1.0), Al.VerticalFlip(p=3.0 / 7.0)], p=0.7),
            Al.SomeOf([Al.ToGray(p=1.0), Al.InvertImg(p=1.0), Al.Transpose(p=1.0)], n=2),
        ]
    )
    da = deterministic(comp, seed=5)
    assert da.config["OneOf.choice"].to_dict()["weights"] == pytest.approx([0.7, 0.3])
    v = [da.params(i, 0) for i in range(N_RATE)]
    assert within(sum(x["OneOf.apply"] for x in v), N_RATE, 0.7)
    assert within(sum(x["OneOf.choice"] == 1 for x in v), N_RATE, 0.3)
    picked = [sorted(x[f"SomeOf.order_{k}"] for k in range(2)) for x in v]
    for pair in ([0, 1], [0, 2], [1, 2]):
        assert within(sum(p == pair for p in picked), N_RATE, 1 / 3), pair
    # and the output shows the choice: a horizontal flip, or a vertical one, or neither
    only_oneof = deterministic(Al.Compose([comp.transforms[0]]), seed=5)  # same names, so the same draws
    for i in range(40):
        y = only_oneof(image=tiny, sample_id=i, epoch=0)["image"]
        want = tiny if not v[i]["OneOf.apply"] else (tiny[:, ::-1] if v[i]["OneOf.choice"] == 0 else tiny[::-1])
        assert np.array_equal(y, want), i


# --------------------------------------------------------------------------- the derived config


def rng(da, name):
    d = da.config[name].to_dict()
    return (d["low"], d["high"])


def test_config_ranges_are_the_hyperparameters():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = Al.Compose(
            [
                Al.RandomResizedCrop((8, 8), scale=(0.3, 0.9), ratio=(0.5, 2.0), p=0.9),
                Al.Affine(rotate=(-15, 25), scale=(0.8, 1.2), translate_px=(-4, 6), shear={"x": (-3, 3), "y": (-2, 5)}),
                Al.Rotate(limit=33, p=0.25),
                Al.ShiftScaleRotate(shift_limit=0.07, scale_limit=0.15, rotate_limit=12),
                Al.ColorJitter(brightness=0.3, contrast=(0.5, 1.5), saturation=0.4, hue=0.1),
                Al.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=(-0.1, 0.3)),
                Al.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=(-5, 15), val_shift_limit=7),
                Al.GaussianBlur(blur_limit=(3, 9), sigma_limit=(0.2, 1.7)),
                Al.GaussNoise(std_range=(0.1, 0.3), mean_range=(-0.05, 0.05)),
                Al.CoarseDropout(num_holes_range=(2, 3), hole_height_range=(4, 8), hole_width_range=(3, 5)),
                Al.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.3), hole_width_range=(0.2, 0.25)),
            ]
        )
    da = deterministic(comp, seed=0)
    assert rng(da, "RandomResizedCrop.area") == (0.3, 0.9)
    assert da.config["RandomResizedCrop.ratio"].to_dict() == {"kind": "log_uniform", "low": 0.5, "high": 2.0, "p": 1.0}
    assert da.config["RandomResizedCrop.apply"].to_dict() == {"kind": "bernoulli", "p": 0.9}
    assert rng(da, "Affine.rotate") == (-15, 25) and rng(da, "Affine.scale_x") == rng(da, "Affine.scale_y") == (0.8, 1.2)
    assert rng(da, "Affine.translate_x") == (-4, 6) and da.config["Affine.translate_x"].kind == "integer"
    assert rng(da, "Affine.shear_x") == (-3, 3) and rng(da, "Affine.shear_y") == (-2, 5)
    assert rng(da, "Rotate.angle") == (-33, 33) and da.config["Rotate.apply"].p == 0.25
    assert rng(da, "ShiftScaleRotate.translate_x") == (-0.07, 0.07)
    assert rng(da, "ShiftScaleRotate.scale_x") == pytest.approx((0.85, 1.15))  # albumentations stores 1 + scale_limit
    assert rng(da, "ShiftScaleRotate.rotate") == (-12, 12)
    assert rng(da, "ColorJitter.brightness") == pytest.approx((0.7, 1.3)) and rng(da, "ColorJitter.contrast") == (0.5, 1.5)
    assert rng(da, "ColorJitter.saturation") == pytest.approx((0.6, 1.4)) and rng(da, "ColorJitter.hue") == (-0.1, 0.1)
    assert da.config["ColorJitter.order"].to_dict() == {"kind": "permutation", "n": 4, "p": 1.0}
    assert rng(da, "RandomBrightnessContrast.brightness") == (-0.25, 0.25)
    assert rng(da, "RandomBrightnessContrast.contrast") == (-0.1, 0.3)
    assert rng(da, "HueSaturationValue.hue_shift") == (-10, 10) and rng(da, "HueSaturationValue.sat_shift") == (-5, 15)
    assert rng(da, "GaussianBlur.sigma") == (0.2, 1.7) and rng(da, "GaussianBlur.ksize") == (3, 9)
    assert rng(da, "GaussNoise.std") == (0.1, 0.3) and rng(da, "GaussNoise.mean") == (-0.05, 0.05)
    assert rng(da, "CoarseDropout.num_holes") == (2, 3)
    assert rng(da, "CoarseDropout.hole_height_2") == (4, 8) and rng(da, "CoarseDropout.hole_width_0") == (3, 5)
    assert da.config["CoarseDropout.hole_height_2"].kind == "integer"  # sizes in pixels
    assert "CoarseDropout.hole_height_3" not in da.config  # at most 3 holes
    assert rng(da, "CoarseDropout_2.hole_height_0") == (0.1, 0.3) and rng(da, "CoarseDropout_2.hole_width_0") == (0.2, 0.25)


def test_the_config_works_with_dpas_tools(tmp_path):
    import subprocess
    import sys

    from dpa.distributed import assert_consistent_across_ranks

    da = deterministic(pipeline(), seed=1)
    assert da.config.fingerprint() == deterministic(pipeline(), seed=1).config.fingerprint()
    assert da.config.fingerprint() != deterministic(Al.Compose([Al.Rotate(limit=31)]), seed=1).config.fingerprint()
    assert_consistent_across_ranks(da.config, seed=da.seed, epoch=0)
    path = tmp_path / "albu.json"
    da.config.save(path)
    out = subprocess.run([sys.executable, "-m", "dpa.cli", "inspect", "--config", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert "OneOf.choice" in out and da.config.fingerprint() in out


def test_names_are_stable_and_user_chosen():
    first, second = Al.Rotate(limit=10), Al.Rotate(limit=20)
    comp = Al.Compose([first, Al.HorizontalFlip(), second])
    da = deterministic(comp, seed=0, names={second: "big"})
    assert {"Rotate.angle", "big.angle", "HorizontalFlip.apply"} <= set(da.config)
    with pytest.raises(ValueError, match="match no random transform"):
        deterministic(comp, seed=0, names={"Rotate_9": "x"})


# --------------------------------------------------------------------------- refusals


class MyFlip(Al.HorizontalFlip):
    pass


class MyNoise(Al.ImageOnlyTransform):
    def apply(self, img, **params):
        return img + np.random.randint(0, 3, img.shape).astype(img.dtype)


@pytest.mark.parametrize(
    "make, name, why",
    [
        (lambda: Al.Compose([Al.MotionBlur()]), "MotionBlur", ""),
        (lambda: Al.Compose([Al.HorizontalFlip(), Al.Perspective()]), "Perspective", ""),
        (lambda: Al.Compose([MyNoise(p=1.0)]), "MyNoise", ""),
        (lambda: Al.Compose([MyFlip()]), "MyFlip", "subclass of HorizontalFlip"),
        (lambda: Al.Compose([Al.OneOf([Al.Rotate(), Al.ElasticTransform()])]), "ElasticTransform", ""),
        (lambda: Al.ReplayCompose([Al.HorizontalFlip()]), "ReplayCompose", "dpa walks Compose"),
        (lambda: Al.Compose([Al.PadIfNeeded(64, 64, position="random")]), "PadIfNeeded", "position='random'"),
        (lambda: Al.Compose([Al.LongestMaxSize(max_size=[16, 24])]), "LongestMaxSize", "list of max_size"),
        (lambda: Al.Compose([Al.SomeOf([Al.HorizontalFlip() for _ in range(13)], n=2)]), "SomeOf", "more than 12"),
    ],
    ids=["motion-blur", "perspective", "own-class", "subclass", "nested", "replay", "random-pad", "max-size-list", "someof-13"],
)
def test_what_dpa_cannot_drive_is_refused_by_name(make, name, why):
    with pytest.raises(UnsupportedTransformError, match=name) as err:
        deterministic(make(), seed=0)
    assert why in str(err.value)


def test_bad_calls_are_refused(image):
    da = deterministic(pipeline(), seed=0)
    with pytest.raises(ValueError, match=r"sample_id must be in \[0, 2\*\*64\); got -1"):
        da(image=image, sample_id=-1, epoch=0)
    with pytest.raises(TypeError, match="sample_id must be an integer"):
        da(image=image, sample_id=1.0, epoch=0)
    with pytest.raises(ValueError, match=r"epoch must be in \[0, 2\*\*32\)"):
        da(image=image, sample_id=1, epoch=-1)
    with pytest.raises(TypeError, match="albumentations Compose or transform"):
        deterministic([Al.HorizontalFlip()], seed=0)
    flip = Al.HorizontalFlip()
    with pytest.raises(ValueError, match="same HorizontalFlip object appears twice"):
        deterministic(Al.Compose([flip, Al.Rotate(), flip]), seed=0)


@pytest.mark.parametrize("make, name", [
    (lambda: Al.Compose([Al.HorizontalFlip(), Al.Rotate(limit=1e308)]), "Rotate"),
    (lambda: Al.Affine(rotate=(-1e308, 1e308)), "Affine"),
])
def test_hyperparameters_dpa_cannot_draw_name_the_transform(make, name):
    with pytest.raises(ValueError, match=f"^{name}( \\([^)]*\\))?: its hyperparameters cannot be a dpa config: "):
        deterministic(make(), seed=0)


def test_untested_versions_and_albumentationsx_are_refused(monkeypatch):
    from importlib import metadata

    real = metadata.version

    def fake(versions):
        def version(dist):
            if dist in versions:
                if versions[dist] is None:
                    raise metadata.PackageNotFoundError(dist)
                return versions[dist]
            return real(dist)

        return version

    monkeypatch.setattr(metadata, "version", fake({"albumentations": "2.1.0", "albumentationsx": None}))
    with pytest.raises(UnsupportedVersionError, match=r"albumentations >=2.0.8,<2.0.9 .*found 2.1.0"):
        deterministic(Al.Compose([Al.HorizontalFlip()]), seed=0)
    monkeypatch.setattr(metadata, "version", fake({"albumentationsx": "2.0.11"}))
    with pytest.raises(UnsupportedVersionError, match="AlbumentationsX .*AGPL"):
        deterministic(Al.Compose([Al.HorizontalFlip()]), seed=0)
    monkeypatch.setattr(metadata, "version", real)
    monkeypatch.setattr(Al, "__version__", "2.0.7")  # the module that would run is what counts too
    with pytest.raises(UnsupportedVersionError, match="found 2.0.7"):
        deterministic(Al.Compose([Al.HorizontalFlip()]), seed=0)
    # albumentations' last release is 2.0.8: a later 2.0.x module is AlbumentationsX's code (its files
    # installed over albumentations', whose metadata still says 2.0.8).
    monkeypatch.setattr(Al, "__version__", "2.0.10")
    with pytest.raises(UnsupportedVersionError, match="found 2.0.10"):
        deterministic(Al.Compose([Al.HorizontalFlip()]), seed=0)


# --------------------------------------------------------------------------- targets follow the image


def test_masks_boxes_and_keypoints_follow_the_image():
    img = np.zeros((40, 48, 3), dtype=np.uint8)
    img[10:22, 8:30] = 255
    img[30, 40] = 128  # a keypoint's pixel
    comp = Al.Compose(
        [
            Al.RandomResizedCrop((40, 48), scale=(0.7, 1.0), interpolation=cv2.INTER_NEAREST),
            Al.HorizontalFlip(),
            Al.VerticalFlip(),
            Al.Affine(translate_px=(-4, 4), scale=(0.9, 1.1), interpolation=cv2.INTER_NEAREST, p=1.0),
        ],
        bbox_params=Al.BboxParams(format="pascal_voc", label_fields=["labels"], min_visibility=0.0),
        keypoint_params=Al.KeypointParams(format="xy", remove_invisible=False),
    )
    da = deterministic(comp, seed=4)
    for sid in range(25):
        out = da(image=img, mask=(img[..., 0] == 255).astype(np.uint8), bboxes=[[8, 10, 30, 22]], labels=[1],
                 keypoints=[[40.5, 30.5]], sample_id=sid, epoch=0)
        assert np.array_equal(out["mask"], (out["image"][..., 0] == 255).astype(np.uint8)), sid
        ys, xs = np.nonzero(out["image"][..., 0] == 255)
        if len(ys) == 0:
            continue
        found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        assert np.abs(found - np.array(out["bboxes"][0])).max() <= 1.5, (sid, found, out["bboxes"])
        ky, kx = np.nonzero(out["image"][..., 0] == 128)
        if len(ky):
            assert abs(kx[0] + 0.5 - out["keypoints"][0][0]) <= 1.5 and abs(ky[0] + 0.5 - out["keypoints"][0][1]) <= 1.5


def test_applied_params_are_recorded_when_asked(image):
    da = deterministic(Al.Compose([Al.Rotate(limit=20, p=1.0)], save_applied_params=True), seed=0)
    out = da(image=image, sample_id=3, epoch=0)
    assert [name for name, _ in out["applied_transforms"]] == ["Rotate"]
    assert "matrix" in out["applied_transforms"][0][1]


# --------------------------------------------------------------------------- agreement with dpa.apply


@pytest.fixture(scope="module")
def smooth():
    x = np.random.default_rng(0).random((32, 48, 3)).astype(np.float32)
    return cv2.blur(x, (5, 5), borderType=cv2.BORDER_REFLECT_101)


def chw(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def interior(a, b, m=3):
    return (a[..., m:-m, m:-m] - b[..., m:-m, m:-m]).abs().max().item()


def test_agrees_with_dpa_apply(smooth):
    pytest.importorskip("torch")
    import dpa.apply as A

    X, ids = chw(smooth), range(8)

    def outs(t):
        da = deterministic(Al.Compose([t]), seed=1)
        return da, [da(image=smooth, sample_id=i, epoch=0) for i in ids]

    # Rotate / Affine: a positive angle turns counter-clockwise, as dpa's; shear_x has the opposite sign of dpa's.
    da, o = outs(Al.Rotate(limit=30, p=1.0))
    assert max(interior(chw(r["image"]), A.affine(X, rotation=da.params(i, 0)["Rotate.angle"])) for i, r in zip(ids, o)) < 1e-5
    # (dpa shears before it rotates, albumentations after: shear is compared without rotation.)
    da, o = outs(Al.Affine(rotate=(-20, 20), scale=(0.8, 1.2), keep_ratio=True, translate_px=(-3, 3), p=1.0))
    for i, r in zip(ids, o):
        v = da.params(i, 0)
        ref = A.affine(X, rotation=v["Affine.rotate"], scale=v["Affine.scale_x"], translate_x=v["Affine.translate_x"] / 48,
                       translate_y=v["Affine.translate_y"] / 32)
        assert interior(chw(r["image"]), ref) < 1e-5
    da, o = outs(Al.Affine(scale=(0.8, 1.2), keep_ratio=True, translate_px=(-3, 3), shear={"x": (-8, 8), "y": (0, 0)}, p=1.0))
    for i, r in zip(ids, o):
        v = da.params(i, 0)
        ref = A.affine(X, scale=v["Affine.scale_x"], translate_x=v["Affine.translate_x"] / 48,
                       translate_y=v["Affine.translate_y"] / 32, shear=-v["Affine.shear_x"])
        assert interior(chw(r["image"]), ref) < 1e-5
    # Flips: identical.
    da, o = outs(Al.HorizontalFlip(p=0.5))
    assert all(np.array_equal(chw(r["image"]), A.hflip(X, da.params(i, 0)["HorizontalFlip.apply"])) for i, r in zip(ids, o))
    # RandomResizedCrop crops whole pixels; at the crop's border cv2 repeats its edge pixel where dpa reads the next.
    da = deterministic(Al.Compose([Al.RandomResizedCrop((32, 48), scale=(0.3, 1.0))]), seed=1)
    for i in ids:
        r = da(image=smooth, sample_id=i, epoch=0)
        x0, y0, x1, y1 = da.transform.transforms[0].params["crop_coords"]
        assert interior(chw(r["image"]), A.resized_crop(X, x0 / 48, y0 / 32, (x1 - x0) / 48, (y1 - y0) / 32), m=2) < 1e-5
    # ColorJitter (torchvision's formulas, as dpa.apply's), one op at a time.
    neutral = {"brightness": (1, 1), "contrast": (1, 1), "saturation": (1, 1), "hue": (0, 0)}
    for op, r_ in [("brightness", (0.7, 1.3)), ("contrast", (0.7, 1.3)), ("saturation", (0.7, 1.3)), ("hue", (-0.1, 0.1))]:
        da, o = outs(Al.ColorJitter(**{**neutral, op: r_}, p=1.0))
        err = max((chw(r["image"]) - getattr(A, f"adjust_{op}")(X, da.params(i, 0)[f"ColorJitter.{op}"])).abs().max().item()
                  for i, r in zip(ids, o))
        assert err < 5e-5, op
    # GaussianBlur with dpa's kernel size (2 * ceil(3 sigma) + 1 = 7), both reflecting at the border.
    da, o = outs(Al.GaussianBlur(blur_limit=(7, 7), sigma_limit=(0.7, 1.0), p=1.0))
    assert max((chw(r["image"]) - A.gaussian_blur(X, da.params(i, 0)["GaussianBlur.sigma"])).abs().max().item()
               for i, r in zip(ids, o)) < 1e-5
    # GaussNoise: the same normal per (channel, y, x) as dpa.apply's noise field (away from the clamps).
    mid = (0.3 + 0.4 * smooth).astype(np.float32)
    da = deterministic(Al.Compose([Al.GaussNoise(std_range=(0.01, 0.03), p=1.0)]), seed=1)
    for i in ids:
        ref = A.gaussian_noise(chw(mid), da.params(i, 0)["GaussNoise.std"], [i], seed=1, epoch=0)  # the run's seed
        assert (chw(da(image=mid, sample_id=i, epoch=0)["image"]) - ref).abs().max() < 1e-6
    # CoarseDropout with one hole is dpa.apply.erase of that box.
    da = deterministic(Al.Compose([Al.CoarseDropout(num_holes_range=(1, 1), p=1.0)]), seed=1)
    for i in ids:
        r = da(image=smooth, sample_id=i, epoch=0)
        x0, y0, x1, y1 = da.transform.transforms[0].params["holes"][0]
        assert np.array_equal(chw(r["image"]), A.erase(X, x0 / 48, y0 / 32, (x1 - x0) / 48, (y1 - y0) / 32))


def test_the_readme_snippet_runs():
    from tests.test_readme import block_starting

    namespace: dict = {}
    exec(compile(block_starting("import numpy as np\nimport albumentations as A\n"), "README.md", "exec"), namespace)
    assert namespace["out"]["image"].shape == (224, 224, 3) and len(namespace["out"]["bboxes"]) <= 1


def test_docstring_examples():
    import doctest

    import dpa.integrations.albumentations as module

    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
