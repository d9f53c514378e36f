"""dpa.integrations.torchvision: a user's own v2 pipeline, its random choices made by dpa.

Real torchvision 0.29 transforms throughout (no stand-ins): reproducibility
whatever the global RNG, epochs, rates against the pipeline's ``p``, derived
config ranges, refusals, targets following the image, agreement with
``dpa.apply``, and real DataLoader worker processes.
"""

from __future__ import annotations

import math
import pickle
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402
from torchvision.transforms.v2 import functional as F  # noqa: E402

import dpa  # noqa: E402
from dpa import apply as A  # noqa: E402
from dpa.integrations._common import UnsupportedTransformError  # noqa: E402
from dpa.integrations.torchvision import SUPPORTED, DeterministicTransform, deterministic  # noqa: E402

NEAREST = v2.InterpolationMode.NEAREST
BILINEAR = v2.InterpolationMode.BILINEAR


def image(c: int = 3, h: int = 24, w: int = 32, dtype=torch.uint8, seed: int = 0) -> torch.Tensor:
    x = torch.rand(c, h, w, generator=torch.Generator().manual_seed(seed))
    return (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x.to(dtype)


def smooth(h: int = 32, w: int = 40) -> torch.Tensor:
    """A smooth float RGB image: bilinear resampling of it is close to exact, so conventions show, not aliasing."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.5 + 0.4 * torch.sin(3 * xx + yy), 0.5 + 0.4 * torch.cos(2 * yy + xx), 0.3 + 0.5 * xx * yy])


def kitchen_sink() -> v2.Compose:
    """Every supported random transform (and container) that works on a uint8 image with boxes and masks."""
    return v2.Compose([
        v2.RandomResizedCrop((20, 28), antialias=True),
        v2.RandomCrop((18, 24), padding=2),
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(0.3),
        v2.RandomApply([v2.RandomRotation(25)], p=0.6),
        v2.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-5, 5, -3, 3)),
        v2.RandomPerspective(0.3, p=0.5),
        v2.RandomChoice([v2.ColorJitter(0.3, 0.3, 0.3, 0.05), v2.RandomGrayscale(1.0)], p=[0.7, 0.3]),
        v2.RandomOrder([v2.RandomInvert(0.3), v2.RandomPosterize(4, 0.3), v2.RandomSolarize(128, 0.3),
                        v2.RandomAdjustSharpness(2.0, 0.3), v2.RandomAutocontrast(0.3), v2.RandomEqualize(0.3)]),
        v2.GaussianBlur(3, (0.1, 1.5)),
        v2.RandomZoomOut(side_range=(1.0, 1.5), p=0.3),
        v2.Resize((18, 24), antialias=True),
        v2.GaussianNoise(sigma=0.05),
        v2.RandomErasing(0.5, value="random"),
    ])


def sample(h: int = 24, w: int = 32) -> tuple:
    img = tv_tensors.Image(image(h=h, w=w))
    boxes = tv_tensors.BoundingBoxes([[3, 4, 15, 20], [10, 2, 30, 9]], format="XYXY", canvas_size=(h, w))
    mask = tv_tensors.Mask((image(1, h, w, seed=1)[0] > 128).to(torch.uint8))
    return img, boxes, mask


def equal(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and torch.equal(a, b)
    return a == b


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These images are tiny: torch's thread pool costs more than it saves (a lot, on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _quiet_erasing_warning():
    with warnings.catch_warnings():  # RandomErasing warns that it passes boxes and masks through (as torchvision does)
        warnings.filterwarnings("ignore", message="RandomErasing.. is currently passing through")
        yield


# --------------------------------------------------------------------------- reproducibility


def test_same_output_whatever_the_global_rng() -> None:
    dt = deterministic(kitchen_sink(), seed=11)
    inputs = sample()
    for sid in range(8):
        torch.manual_seed(0)
        first = dt(*inputs, sample_id=sid, epoch=2)
        torch.manual_seed(12345 + sid)
        torch.rand(7)  # the global generator somewhere else entirely
        assert equal(dt(*inputs, sample_id=sid, epoch=2), first)


def test_global_rng_is_never_consulted() -> None:
    dt = deterministic(kitchen_sink(), seed=11)
    inputs = sample()
    torch.manual_seed(3)
    state = torch.random.get_rng_state()
    for sid in range(12):
        dt(*inputs, sample_id=sid, epoch=0)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize(
    "transform",
    [v2.RandAugment(), v2.RandAugment(num_ops=3, magnitude=15), v2.TrivialAugmentWide(), v2.AutoAugment(),
     v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10), v2.AutoAugment(v2.AutoAugmentPolicy.SVHN)],
    ids=lambda t: type(t).__name__,
)
def test_auto_augment_family_is_deterministic(transform) -> None:
    dt = deterministic(transform, seed=5)
    x = image(h=20, w=20)
    outs = []
    for sid in range(40):
        torch.manual_seed(sid)
        out = dt(x, sample_id=sid, epoch=0)
        torch.manual_seed(sid + 1000)
        assert torch.equal(out, dt(x, sample_id=sid, epoch=0))
        outs.append(out)
    changed = sum(not torch.equal(o, x) for o in outs)
    assert changed >= 20  # the ops really run (some draws are Identity or a no-op magnitude)
    assert len({o.numpy().tobytes() for o in outs}) >= 20  # and differ between samples


def test_epochs_and_seeds_differ() -> None:
    dt = deterministic(kitchen_sink(), seed=11)
    other_seed = deterministic(kitchen_sink(), seed=12)
    inputs = sample()
    ids = range(8)
    e0 = [dt(*inputs, sample_id=i, epoch=0) for i in ids]
    e1 = [dt(*inputs, sample_id=i, epoch=1) for i in ids]
    s1 = [other_seed(*inputs, sample_id=i, epoch=0) for i in ids]
    assert sum(not equal(a, b) for a, b in zip(e0, e1)) == len(ids)
    assert sum(not equal(a, b) for a, b in zip(e0, s1)) == len(ids)
    assert dt.params(3, 0) != dt.params(3, 1)


def test_string_keys_and_params() -> None:
    dt = deterministic(v2.RandomRotation(30), seed=0)
    x = image()
    key = "train/cat/0001.jpg"
    sid = dpa.sample_id_from_key(key)
    assert torch.equal(dt(x, sample_id=key, epoch=1), dt(x, sample_id=sid, epoch=1))
    assert dt.params(key, 1) == dpa.gen_augmentation_params(sid, dt.config, seed=0, epoch=1)
    by_hand = F.rotate(x, dt.params(key, 1)["RandomRotation.angle"])
    assert torch.equal(dt(x, sample_id=key, epoch=1), by_hand)


def test_pickles_and_keeps_its_values() -> None:
    dt = deterministic(kitchen_sink(), seed=11)
    clone = pickle.loads(pickle.dumps(dt))
    inputs = sample()
    assert clone.config == dt.config
    assert equal(clone(*inputs, sample_id=5, epoch=3), dt(*inputs, sample_id=5, epoch=3))


# --------------------------------------------------------------------------- rates over a few thousand ids

N = 3000


def rate(dt, x, changed, epoch: int = 0) -> float:
    return sum(bool(changed(dt(x, sample_id=i, epoch=epoch))) for i in range(N)) / N


def within(observed: float, p: float) -> bool:
    """Within 5 binomial standard deviations (the ids are fixed, so this never flakes)."""
    return abs(observed - p) <= 5 * math.sqrt(p * (1 - p) / N) + 1e-12


def test_flip_rate_matches_p() -> None:
    x = torch.tensor([[[0.0, 1.0]]])
    assert within(rate(deterministic(v2.RandomHorizontalFlip(0.3), seed=1), x, lambda y: y[0, 0, 0] == 1.0), 0.3)
    xv = torch.tensor([[[0.0], [1.0]]])
    assert within(rate(deterministic(v2.RandomVerticalFlip(0.8), seed=1), xv, lambda y: y[0, 0, 0] == 1.0), 0.8)


def test_erasing_rate_matches_p() -> None:
    x = torch.ones(1, 8, 8)
    dt = deterministic(v2.RandomErasing(p=0.4, value=0), seed=2)
    assert within(rate(dt, x, lambda y: bool((y == 0).any())), 0.4)


def test_random_apply_rate_matches_p() -> None:
    x = torch.tensor([[[0.25]]])
    dt = deterministic(v2.Compose([v2.RandomApply([v2.RandomInvert(1.0)], p=0.25)]), seed=3)
    assert within(rate(dt, x, lambda y: y[0, 0, 0] != 0.25), 0.25)


def test_random_choice_and_order_frequencies() -> None:
    x = torch.tensor([[[0.0, 1.0], [0.5, 0.25]]])
    choice = deterministic(
        v2.RandomChoice([v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0), v2.Identity()], p=[1, 2, 1]), seed=4
    )
    hits = [choice(x, sample_id=i, epoch=0) for i in range(N)]
    h = sum(bool(torch.equal(y, x.flip(-1))) for y in hits) / N
    v = sum(bool(torch.equal(y, x.flip(-2))) for y in hits) / N
    assert within(h, 0.25) and within(v, 0.5)
    order = deterministic(v2.RandomOrder([v2.RandomHorizontalFlip(1.0), v2.RandomRotation((90, 90))]), seed=4)
    # flip then rotate differs from rotate then flip: each order about half the time
    first = sum(bool(torch.equal(order(x, sample_id=i, epoch=0), F.rotate(x.flip(-1), 90))) for i in range(N)) / N
    assert within(first, 0.5)


def test_auto_augment_gates_follow_the_policy_probabilities() -> None:
    t = v2.AutoAugment()
    dt = deterministic(t, seed=6)
    counts = [0, 0]
    expected = [0.0, 0.0]
    for i in range(N):
        v = dt.params(i, 0)
        sub = t._policies[v["AutoAugment.policy"]]
        for k in range(2):
            counts[k] += v[f"AutoAugment.gate_{k}"] < sub[k][1]
            expected[k] += sub[k][1]
    for k in range(2):
        assert abs(counts[k] - expected[k]) / N < 0.03


# --------------------------------------------------------------------------- the derived config

CONFIG_CASES = [
    # (transform, {name: spec dict}) -- each range is the transform's own hyperparameter
    (v2.RandomHorizontalFlip(0.3), {"RandomHorizontalFlip.apply": {"kind": "bernoulli", "p": 0.3}}),
    (v2.RandomRotation((-12, 30)), {"RandomRotation.angle": {"kind": "uniform", "low": -12.0, "high": 30.0, "p": 1.0}}),
    (v2.RandomResizedCrop(8, scale=(0.2, 0.9), ratio=(0.5, 2.0)), {
        "RandomResizedCrop.scale": {"kind": "uniform", "low": 0.2, "high": 0.9, "p": 1.0},
        "RandomResizedCrop.ratio": {"kind": "log_uniform", "low": 0.5, "high": 2.0, "p": 1.0},
        "RandomResizedCrop.x": {"kind": "uniform", "low": 0.0, "high": 1.0, "p": 1.0},
        "RandomResizedCrop.y": {"kind": "uniform", "low": 0.0, "high": 1.0, "p": 1.0}}),
    (v2.RandomAffine(7, translate=(0.1, 0.3), scale=(0.8, 1.2), shear=(-4, 6, -2, 3)), {
        "RandomAffine.angle": {"kind": "uniform", "low": -7.0, "high": 7.0, "p": 1.0},
        "RandomAffine.translate_x": {"kind": "uniform", "low": -0.1, "high": 0.1, "p": 1.0},
        "RandomAffine.translate_y": {"kind": "uniform", "low": -0.3, "high": 0.3, "p": 1.0},
        "RandomAffine.scale": {"kind": "uniform", "low": 0.8, "high": 1.2, "p": 1.0},
        "RandomAffine.shear_x": {"kind": "uniform", "low": -4.0, "high": 6.0, "p": 1.0},
        "RandomAffine.shear_y": {"kind": "uniform", "low": -2.0, "high": 3.0, "p": 1.0}}),
    (v2.ColorJitter(brightness=0.4, hue=(-0.1, 0.2)), {
        "ColorJitter.brightness": {"kind": "uniform", "low": 0.6, "high": 1.4, "p": 1.0},
        "ColorJitter.hue": {"kind": "uniform", "low": -0.1, "high": 0.2, "p": 1.0},
        "ColorJitter.order": {"kind": "permutation", "n": 4, "p": 1.0}}),
    (v2.ColorJitter(contrast=(0.5, 1.5)), {"ColorJitter.contrast": {"kind": "uniform", "low": 0.5, "high": 1.5, "p": 1.0}}),
    (v2.GaussianBlur(5, sigma=(0.3, 1.7)), {"GaussianBlur.sigma": {"kind": "uniform", "low": 0.3, "high": 1.7, "p": 1.0}}),
    (v2.GaussianNoise(mean=0.1, sigma=0.2), {"GaussianNoise.mean": {"kind": "uniform", "low": 0.1, "high": 0.1, "p": 1.0},
                                             "GaussianNoise.sigma": {"kind": "uniform", "low": 0.2, "high": 0.2, "p": 1.0}}),
    (v2.RandomErasing(0.7, scale=(0.05, 0.2), ratio=(0.5, 2.5)), {
        "RandomErasing.apply": {"kind": "bernoulli", "p": 0.7},
        "RandomErasing.scale": {"kind": "uniform", "low": 0.05, "high": 0.2, "p": 1.0},
        "RandomErasing.ratio": {"kind": "log_uniform", "low": 0.5, "high": 2.5, "p": 1.0},
        "RandomErasing.x": {"kind": "uniform", "low": 0.0, "high": 1.0, "p": 1.0},
        "RandomErasing.y": {"kind": "uniform", "low": 0.0, "high": 1.0, "p": 1.0}}),
    (v2.RandomPerspective(0.35, p=0.6), {
        "RandomPerspective.apply": {"kind": "bernoulli", "p": 0.6},
        **{f"RandomPerspective.{c}": {"kind": "uniform", "low": 0.0, "high": 0.35, "p": 1.0}
           for c in ("tl_x", "tl_y", "tr_x", "tr_y", "br_x", "br_y", "bl_x", "bl_y")}}),
    (v2.RandomCrop(8), {"RandomCrop.x": {"kind": "uniform", "low": 0.0, "high": 1.0, "p": 1.0},
                        "RandomCrop.y": {"kind": "uniform", "low": 0.0, "high": 1.0, "p": 1.0}}),
    (v2.JPEG((40, 90)), {"JPEG.quality": {"kind": "integer", "low": 40, "high": 90, "p": 1.0}}),
    (v2.RandomResize(16, 32), {"RandomResize.size": {"kind": "integer", "low": 16, "high": 31, "p": 1.0}}),
    (v2.RandomApply([v2.RandomInvert(1.0)], p=0.2), {"RandomApply.apply": {"kind": "bernoulli", "p": 0.2},
                                                     "RandomInvert.apply": {"kind": "bernoulli", "p": 1.0}}),
    (v2.RandomChoice([v2.RandomInvert(1.0), v2.RandomEqualize(1.0)], p=[1, 3]), {
        "RandomChoice.choice": {"kind": "choice", "values": [0, 1], "weights": [0.25, 0.75], "p": 1.0},
        "RandomInvert.apply": {"kind": "bernoulli", "p": 1.0}, "RandomEqualize.apply": {"kind": "bernoulli", "p": 1.0}}),
    (v2.TrivialAugmentWide(num_magnitude_bins=11), {
        "TrivialAugmentWide.op": {"kind": "integer", "low": 0, "high": 13, "p": 1.0},
        "TrivialAugmentWide.bin": {"kind": "integer", "low": 0, "high": 10, "p": 1.0},
        "TrivialAugmentWide.negate": {"kind": "bernoulli", "p": 0.5}}),
]


@pytest.mark.parametrize("transform, expected", CONFIG_CASES, ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "")
def test_derived_config_is_the_transforms_hyperparameters(transform, expected) -> None:
    assert deterministic(transform, seed=0).config.to_dict() == expected


def test_config_works_with_dpas_tools() -> None:
    dt = deterministic(kitchen_sink(), seed=0)
    assert dpa.AugmentationConfig.from_json(dt.config.to_json()) == dt.config
    assert len(dt.config.fingerprint()) == 16
    assert dt.config.fingerprint() != deterministic(v2.RandomRotation(10), seed=0).config.fingerprint()
    from dpa.distributed import assert_consistent_across_ranks

    assert_consistent_across_ranks(dt.config, seed=0, epoch=0)  # no process group: checks locally
    batch = dpa.gen_augmentation_batch(range(5), dt.config, seed=0, epoch=0)
    assert float(batch["RandomAffine.angle"][2]) == dt.params(2, 0)["RandomAffine.angle"]


def test_randaugment_magnitude_is_the_transforms_and_ops_cover_its_table() -> None:
    t = v2.RandAugment(num_ops=2, magnitude=9)
    dt = deterministic(t, seed=0)
    ops = {dt.params(i, 0)["RandAugment.op_0"] for i in range(400)}
    assert ops == set(range(len(t._AUGMENTATION_SPACE)))


# --------------------------------------------------------------------------- names and pipeline edits


def test_default_and_user_names() -> None:
    a, b = v2.RandomRotation(10), v2.RandomRotation(20)
    dt = deterministic(v2.Compose([a, v2.RandomHorizontalFlip(), b]), seed=0)
    assert list(dt.named_transforms) == ["RandomRotation", "RandomHorizontalFlip", "RandomRotation_2"]
    assert "RandomRotation_2.angle" in dt.config
    named = deterministic(v2.Compose([a, v2.RandomHorizontalFlip(), b]), seed=0,
                          names={b: "small_turn", "RandomHorizontalFlip": "flip"})
    assert list(named.named_transforms) == ["RandomRotation", "flip", "small_turn"]
    assert "small_turn.angle" in named.config and "RandomRotation_2.angle" not in named.config
    assert named.params(4, 0)["RandomRotation.angle"] == dt.params(4, 0)["RandomRotation.angle"]
    with pytest.raises(ValueError, match="names= has keys that match no random transform"):
        deterministic(v2.Compose([a, b]), seed=0, names={"RandomRotaton_2": "typo"})
    with pytest.raises(ValueError, match="both named 'x'"):
        deterministic(v2.Compose([a, b]), seed=0, names={a: "x", b: "x"})


def test_editing_the_pipeline_keeps_other_transforms_values() -> None:
    rot, flip, jitter = v2.RandomRotation(30), v2.RandomHorizontalFlip(), v2.ColorJitter(0.2, 0.2)
    before = deterministic(v2.Compose([rot, flip, jitter]), seed=9)
    # another class inserted, a transform appended, a container around one: the others' values are unchanged
    after = deterministic(
        v2.Compose([v2.RandomResizedCrop(16), v2.RandomApply([rot], p=0.5), flip, jitter, v2.RandomRotation(5)]), seed=9
    )
    for i in range(50):
        p, q = before.params(i, 0), after.params(i, 0)
        assert all(q[k] == v for k, v in p.items())
    # a second RandomRotation inserted before the first renames it: its values change (names are by occurrence)
    renamed = deterministic(v2.Compose([v2.RandomRotation(5), rot, flip, jitter]), seed=9)
    assert renamed.params(1, 0)["RandomRotation_2.angle"] != before.params(1, 0)["RandomRotation.angle"]
    # ... unless the user names it
    pinned = deterministic(v2.Compose([v2.RandomRotation(5), rot, flip, jitter]), seed=9,
                           names={rot: "RandomRotation", "RandomRotation": "extra"})
    assert pinned.params(1, 0)["RandomRotation.angle"] == before.params(1, 0)["RandomRotation.angle"]


def test_changing_a_range_rescales_the_same_draws() -> None:
    narrow = deterministic(v2.RandomRotation(10), seed=1)
    wide = deterministic(v2.RandomRotation(20), seed=1)
    for i in range(20):
        assert wide.params(i, 0)["RandomRotation.angle"] == pytest.approx(2 * narrow.params(i, 0)["RandomRotation.angle"])


def test_the_same_object_twice_is_refused() -> None:
    flip = v2.RandomHorizontalFlip()
    with pytest.raises(ValueError, match="same RandomHorizontalFlip object appears twice"):
        deterministic(v2.Compose([flip, v2.RandomRotation(3), flip]), seed=0)


# --------------------------------------------------------------------------- refusals


class MyRandomTint(v2.Transform):
    """A user's own random transform: dpa cannot know what it draws."""

    def make_params(self, flat_inputs):
        return {"tint": float(torch.rand(()))}

    def transform(self, inpt, params):
        return inpt


class JitteredRotation(v2.RandomRotation):
    def make_params(self, flat_inputs):
        return {"angle": float(torch.randn(()))}


class Halve(v2.Transform):
    def transform(self, inpt, params):
        return inpt // 2


class SneakyNoise(v2.Transform):
    def transform(self, inpt, params):
        return inpt + torch.rand(()) * 0


@pytest.mark.parametrize(
    "pipeline, named",
    [
        (MyRandomTint(), "MyRandomTint"),
        (v2.Compose([v2.RandomHorizontalFlip(), MyRandomTint()]), "MyRandomTint"),
        (v2.Compose([v2.RandomApply([v2.RandomChoice([MyRandomTint(), v2.RandomInvert()])])]), "MyRandomTint"),
        (v2.MixUp(num_classes=10), "MixUp"),
        (v2.CutMix(num_classes=10), "CutMix"),
        (v2.AugMix(), "AugMix"),
        (v2.ElasticTransform(), "ElasticTransform"),
        (v2.Compose([v2.Lambda(lambda x: x)]), "Lambda"),
        (v2.Compose([lambda x: x]), "function"),
        (JitteredRotation(10), "JitteredRotation"),
    ],
)
def test_unknown_random_transforms_are_refused(pipeline, named) -> None:
    with pytest.raises(UnsupportedTransformError) as info:
        deterministic(pipeline, seed=0)
    message = str(info.value)
    assert named in message and "dpa cannot drive it" in message
    assert "RandomResizedCrop" in message  # the supported list is in the message


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda T: T.Compose([T.RandomResizedCrop(32), T.RandomHorizontalFlip()]), "Compose"),
        (lambda T: v2.Compose([v2.RandomHorizontalFlip(), T.RandomRotation(10)]), "RandomRotation"),
        (lambda T: v2.Compose([T.Resize(32), v2.RandomHorizontalFlip()]), "Resize"),
    ],
    ids=["v1-compose", "v1-random", "v1-resize"],
)
def test_v1_transforms_are_refused_pointing_to_v2(make, named) -> None:
    """The classic torchvision.transforms pipeline is refused with the way out (its v2 twin), not as 'a plain callable'."""
    from torchvision import transforms as T

    with pytest.raises(UnsupportedTransformError) as info:
        deterministic(make(T), seed=0)
    message = str(info.value)
    assert named in message and f"torchvision.transforms.v2.{named}" in message and "plain callable" not in message


@pytest.mark.parametrize("bad", ["RandomRotation", None, 3])
def test_a_non_callable_is_a_type_error_naming_it(bad) -> None:
    with pytest.raises(TypeError, match="must be a torchvision.transforms.v2 transform or a callable") as info:
        deterministic(bad, seed=0)
    assert type(bad).__name__ in str(info.value)


def test_subclass_message_names_what_it_overrides() -> None:
    with pytest.raises(UnsupportedTransformError, match="subclass of RandomRotation that overrides make_params"):
        deterministic(JitteredRotation(10), seed=0)


def test_passthrough_lets_vouched_transforms_run_and_catches_a_false_vouch() -> None:
    x = image()
    dt = deterministic(v2.Compose([Halve(), v2.RandomHorizontalFlip(1.0)]), seed=0, passthrough=[Halve])
    assert torch.equal(dt(x, sample_id=0, epoch=0), (x // 2).flip(-1))
    lam = v2.Lambda(lambda t: t + 1)
    assert torch.equal(deterministic(v2.Compose([lam, v2.RandomVerticalFlip(1.0)]), seed=0, passthrough=[lam])(
        x, sample_id=0, epoch=0), (x + 1).flip(-2))
    liar = deterministic(v2.Compose([SneakyNoise(), v2.RandomHorizontalFlip()]), seed=0, passthrough=[SneakyNoise])
    with pytest.raises(RuntimeError, match="SneakyNoise was passed in passthrough= as drawing nothing"):
        liar(x, sample_id=0, epoch=0)


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: deterministic(v2.RandomRotation(5), seed=-1), ValueError, "seed"),
        (lambda: deterministic(v2.RandomRotation(5), seed=1.5), TypeError, "seed"),
        (lambda: deterministic(v2.RandomRotation(5), seed=0, names=["a"]), TypeError, "names must be a mapping"),
        (lambda: deterministic(v2.RandomRotation(5), seed=0, passthrough="Resize"), TypeError, "passthrough must be a list"),
        (lambda: deterministic(v2.RandomResize(8, 8), seed=0), ValueError, "RandomResize: its hyperparameters cannot be a dpa config"),
        (lambda: deterministic(v2.RandomRotation(5), seed=0)(image(), sample_id=-3, epoch=0), ValueError, "sample_id"),
        (lambda: deterministic(v2.RandomRotation(5), seed=0)(image(), sample_id=3, epoch=2**32), ValueError, "epoch"),
        (lambda: deterministic(v2.RandomRotation(5), seed=0)(sample_id=3, epoch=0), TypeError, "at least one input"),
        (lambda: deterministic(v2.RandomOrder([v2.RandomInvert()] * 13), seed=0), UnsupportedTransformError, "at most 12"),
    ],
)
def test_bad_arguments(call, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


def test_a_pipeline_that_draws_nothing_has_no_config_and_runs_as_it_is() -> None:
    pipeline = v2.Compose([v2.Resize(8, antialias=True), v2.CenterCrop(4)])
    dt = deterministic(pipeline, seed=0)
    x = image()
    assert dt.config is None and dt.params(3, 0) == {} and dt.named_transforms == {}
    assert torch.equal(dt(x, sample_id=3, epoch=0), pipeline(x))
    with pytest.raises(ValueError, match="sample_id"):
        dt(x, sample_id=-1, epoch=0)  # checked all the same


def test_it_runs_a_copy_taken_when_wrapped() -> None:
    flip = v2.RandomHorizontalFlip(0.0)
    dt = deterministic(v2.Compose([flip]), seed=0)
    flip.p = 1.0  # too late: the config says p = 0, and that is what runs
    x = image()
    assert dt.config["RandomHorizontalFlip.apply"].p == 0.0
    assert all(torch.equal(dt(x, sample_id=i, epoch=0), x) for i in range(20))
    assert dt.named_transforms["RandomHorizontalFlip"] is not flip


def test_supported_list_covers_the_issue() -> None:
    wanted = {
        "RandomResizedCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomAffine",
        "RandomPerspective", "ColorJitter", "RandomGrayscale", "GaussianBlur", "GaussianNoise", "RandomErasing",
        "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast",
        "RandomEqualize", "RandAugment", "TrivialAugmentWide", "AutoAugment", "RandomApply", "RandomChoice", "RandomOrder",
    }
    assert wanted <= set(SUPPORTED)


# --------------------------------------------------------------------------- targets follow the image

GEOMETRIC = [
    v2.RandomResizedCrop((20, 24), interpolation=NEAREST),
    v2.RandomCrop((16, 20), padding=3, pad_if_needed=True),
    v2.RandomHorizontalFlip(0.5),
    v2.RandomVerticalFlip(0.5),
    v2.RandomRotation(40, interpolation=NEAREST),
    v2.RandomAffine(20, translate=(0.2, 0.1), scale=(0.7, 1.2), shear=(-10, 10), interpolation=NEAREST),
    v2.RandomPerspective(0.5, p=0.8, interpolation=NEAREST),
    v2.RandomZoomOut(side_range=(1.0, 2.0), p=0.8),
    v2.ScaleJitter((24, 32), interpolation=NEAREST),
    v2.RandomResize(12, 40, interpolation=NEAREST),
]


@pytest.mark.parametrize("transform", GEOMETRIC, ids=lambda t: type(t).__name__)
def test_masks_and_boxes_follow_the_image(transform) -> None:
    """Channel 0 of the image *is* the mask (x255): after the transform it still is, so both got the same params."""
    h, w = 24, 32
    mask = torch.zeros(h, w, dtype=torch.uint8)
    mask[6:14, 9:21] = 1
    img = image(h=h, w=w)
    img[0] = mask * 255
    boxes = tv_tensors.BoundingBoxes([[9, 6, 21, 14]], format="XYXY", canvas_size=(h, w))
    keypoints = tv_tensors.KeyPoints([[9.0, 6.0], [21.0, 14.0]], canvas_size=(h, w))
    dt = deterministic(transform, seed=7)
    moved = 0
    for sid in range(12):
        out_img, out_boxes, out_mask, out_kp = dt(tv_tensors.Image(img), boxes, tv_tensors.Mask(mask), keypoints,
                                                  sample_id=sid, epoch=0)
        assert torch.equal(out_img[0], out_mask * 255), sid
        assert out_boxes.canvas_size == tuple(out_img.shape[-2:]) == out_kp.canvas_size
        moved += not torch.equal(out_boxes, boxes)
        ys, xs = torch.nonzero(out_mask, as_tuple=True)
        if len(ys):  # the box encloses what is left of the mask (to a pixel: boxes are continuous, masks sampled)
            x0, y0, x1, y1 = out_boxes[0].tolist()
            assert x0 - 1.5 <= xs.min() and xs.max() + 1 <= x1 + 1.5 and y0 - 1.5 <= ys.min() and ys.max() + 1 <= y1 + 1.5
        # the box corners are keypoints too: they moved together
        if type(transform).__name__ in ("RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "RandomZoomOut"):
            oh, ow = out_img.shape[-2:]
            kp = out_kp.tolist()  # boxes are clamped to the canvas, keypoints are not
            xs_ = sorted(min(max(p[0], 0), ow) for p in kp)
            ys_ = sorted(min(max(p[1], 0), oh) for p in kp)
            assert [xs_[0], ys_[0], xs_[1], ys_[1]] == pytest.approx(out_boxes[0].tolist(), abs=1.01)
    assert moved > 0


def test_dict_samples_and_labels_pass_through() -> None:
    dt = deterministic(v2.Compose([v2.RandomHorizontalFlip(1.0), v2.RandomRotation(10)]), seed=0)
    img, boxes, mask = sample()
    out = dt({"image": img, "boxes": boxes, "mask": mask, "label": 3, "name": "a"}, sample_id=1, epoch=0)
    assert out["label"] == 3 and out["name"] == "a" and isinstance(out["boxes"], tv_tensors.BoundingBoxes)
    again = dt({"image": img, "boxes": boxes, "mask": mask, "label": 3, "name": "a"}, sample_id=1, epoch=0)
    assert equal(out, again)


# --------------------------------------------------------------------------- agreement with torchvision and dpa.apply


def test_each_transform_gets_exactly_dpas_params() -> None:
    """Replaying dpa's values through torchvision's functional API by hand gives the adapter's output, bit for bit."""
    x = image(h=30, w=40)
    dt = deterministic(v2.Compose([v2.RandomResizedCrop((16, 20), antialias=True), v2.ColorJitter(0.3, 0.3, 0.3, 0.1),
                                   v2.GaussianBlur(5, (0.2, 2.0))]), seed=3)
    for sid in range(6):
        v = dt.params(sid, 0)
        area = v["RandomResizedCrop.scale"] * 30 * 40
        w = min(max(math.sqrt(area * v["RandomResizedCrop.ratio"]), area / 30), 40.0)
        cw, ch = int(round(w)), int(round(area / w))
        top = int(v["RandomResizedCrop.y"] * (30 - ch + 1))
        left = int(v["RandomResizedCrop.x"] * (40 - cw + 1))
        y = F.resized_crop(x, top, left, ch, cw, [16, 20], antialias=True)
        fns = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
        for i in range(4):
            k = v[f"ColorJitter.order_{i}"]
            y = fns[k](y, v["ColorJitter." + ("brightness", "contrast", "saturation", "hue")[k]])
        y = F.gaussian_blur(y, [5, 5], [v["GaussianBlur.sigma"]] * 2)
        assert torch.equal(dt(x, sample_id=sid, epoch=0), y)


def test_perspective_coefficients_equal_torchvisions() -> None:
    x = image(h=24, w=30)
    dt = deterministic(v2.RandomPerspective(0.6, p=1.0), seed=2)
    from dpa.integrations.torchvision._geometry import perspective_endpoints

    for sid in range(5):
        v = dt.params(sid, 0)
        corners = [v[f"RandomPerspective.{c}"] for c in ("tl_x", "tl_y", "tr_x", "tr_y", "br_x", "br_y", "bl_x", "bl_y")]
        end = perspective_endpoints(corners, 0.6, 24, 30)
        start = [[0, 0], [29, 0], [29, 23], [0, 23]]
        assert torch.equal(dt(x, sample_id=sid, epoch=0), F.perspective(x, start, end, fill=0))


def test_noise_is_dpas_noise_field() -> None:
    """The first noise transform's field is dpa.apply's (the run's seed); a later one has its own seed."""
    x = image(dtype=torch.float32)
    dt = deterministic(v2.Compose([v2.GaussianNoise(mean=0.0, sigma=0.1)]), seed=4)
    assert dt.noise_seed("GaussianNoise") == 4
    z = A.noise_field((1, *x.shape), [9], seed=4, epoch=2)[0].float()
    out = dt(x, sample_id=9, epoch=2)
    assert torch.equal(out, torch.clamp(x + (0.0 + z * 0.1), 0, 1))
    # ... which is dpa.apply.gaussian_noise's for the same sample, seed and epoch (both clamp to [0, 1])
    torch.testing.assert_close(out, A.gaussian_noise(x, 0.1, sample_ids=9, seed=4, epoch=2), atol=1e-6, rtol=0)
    u8 = image()
    expected = torch.clamp(u8 + (z * (0.1 * 255)).to(torch.int16), 0, 255).to(torch.uint8)
    assert torch.equal(dt(u8, sample_id=9, epoch=2), expected)
    two = deterministic(v2.Compose([v2.GaussianNoise(sigma=0.1, clip=False), v2.GaussianNoise(sigma=0.1, clip=False)]),
                        seed=4)
    second = two.noise_seed("GaussianNoise_2")
    assert two.noise_seed("GaussianNoise") == 4 and second != 4
    zero = torch.zeros(1, 8, 8)
    fields = [A.noise_field((1, 1, 8, 8), [1], seed=s)[0].float() * 0.1 for s in (4, second)]
    torch.testing.assert_close(two(zero, sample_id=1, epoch=0), fields[0] + fields[1], atol=1e-6, rtol=0)
    assert not torch.allclose(fields[0], fields[1], atol=1e-2)
    with pytest.raises(KeyError, match="no Gaussian-noise transform is named 'Blur'"):
        two.noise_seed("Blur")


def test_random_erasing_fill_is_its_own_noise_stream() -> None:
    x = torch.zeros(3, 16, 16)
    dt = deterministic(v2.RandomErasing(1.0, value="random"), seed=4)
    out = dt(x, sample_id=2, epoch=1)
    ys, xs = torch.nonzero(out[0] != 0, as_tuple=True)
    i, j = ys.min().item(), xs.min().item()
    h, w = ys.max().item() - i + 1, xs.max().item() - j + 1
    field = A.noise_field((1, 3, h, w), [2], seed=4, epoch=1, name="RandomErasing.noise")[0].float()
    assert torch.equal(out[:, i:i + h, j:j + w], field)


def _inner(t: torch.Tensor, m: int = 6) -> torch.Tensor:
    return t[..., m:-m, m:-m]


def _gap(a: torch.Tensor, b: torch.Tensor, **affine) -> float:
    """Largest difference where the output samples the image only (where the fill starts, torchvision blends
    the fill in with a sampled mask and dpa.apply samples zeros: they differ there by design)."""
    inside = A.affine(torch.ones_like(a), **affine) >= 1 - 1e-6
    return (a - b).abs()[inside].max().item()


def test_agreement_with_dpa_apply() -> None:
    """Where dpa.apply implements the same op, the two agree on the same values (conventions: docs/INTEGRATIONS.md)."""
    x = smooth()
    h, w = x.shape[-2:]
    worst = {}
    for sid in range(8):
        # RandomRotation's angle is dpa.apply's rotation (both counter-clockwise)
        dt = deterministic(v2.RandomRotation(30, interpolation=BILINEAR), seed=1)
        a = dt.params(sid, 0)["RandomRotation.angle"]
        worst["rotation"] = max(worst.get("rotation", 0), _gap(dt(x, sample_id=sid, epoch=0), A.affine(x, rotation=a), rotation=a))
        # RandomAffine's angle and shear are clockwise: dpa.apply takes their negatives; translations in whole pixels
        dt = deterministic(v2.RandomAffine(20, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-8, 8), interpolation=BILINEAR), seed=1)
        v = dt.params(sid, 0)
        tx, ty = round(v["RandomAffine.translate_x"] * w), round(v["RandomAffine.translate_y"] * h)
        same = dict(rotation=-v["RandomAffine.angle"], scale=v["RandomAffine.scale"], translate_x=tx / w, translate_y=ty / h,
                    shear=-v["RandomAffine.shear_x"])
        worst["affine"] = max(worst.get("affine", 0), _gap(dt(x, sample_id=sid, epoch=0), A.affine(x, **same), **same))
        # ColorJitter's factors are dpa.apply's colour factors
        for op in ("brightness", "contrast", "saturation", "hue"):
            dt = deterministic(v2.ColorJitter(**{op: 0.1 if op == "hue" else 0.5}), seed=1)
            f = dt.params(sid, 0)[f"ColorJitter.{op}"]
            ref = getattr(A, f"adjust_{op}")(x, f)
            worst[op] = max(worst.get(op, 0), (dt(x, sample_id=sid, epoch=0) - ref).abs().max().item())
        # GaussianBlur's sigma with the kernel dpa.apply picks (2 ceil(3 sigma) + 1)
        dt = deterministic(v2.GaussianBlur(7, sigma=(0.3, 1.0)), seed=1)
        s = dt.params(sid, 0)["GaussianBlur.sigma"]
        if 2 * math.ceil(3 * s) + 1 == 7:
            worst["blur"] = max(worst.get("blur", 0), (dt(x, sample_id=sid, epoch=0) - A.gaussian_blur(x, s)).abs().max().item())
        # an integer crop box, as fractions, is dpa.apply's resized crop (away from the borders, where
        # torchvision's resize clamps to the crop and dpa.apply samples the neighbouring pixels)
        dt = deterministic(v2.RandomResizedCrop((h, w), interpolation=BILINEAR, antialias=False), seed=1)
        out = dt(x, sample_id=sid, epoch=0)
        box = _crop_box(dt, sid, h, w)
        ref = A.resized_crop(x, box[1] / w, box[0] / h, box[3] / w, box[2] / h)
        worst["resized_crop"] = max(worst.get("resized_crop", 0), (_inner(out, 3) - _inner(ref, 3)).abs().max().item())
        # erasing with a constant is dpa.apply's erase of the same box
        dt = deterministic(v2.RandomErasing(1.0, value=0), seed=1)
        out = dt(x, sample_id=sid, epoch=0)
        ys, xs = torch.nonzero(out[0] != x[0], as_tuple=True)
        ref = A.erase(x, xs.min().item() / w, ys.min().item() / h, (xs.max() - xs.min() + 1).item() / w,
                      (ys.max() - ys.min() + 1).item() / h)
        worst["erase"] = max(worst.get("erase", 0), (out - ref).abs().max().item())
        # flips are flips
        dt = deterministic(v2.RandomHorizontalFlip(0.5), seed=1)
        flipped = A.hflip(x, dt.params(sid, 0)["RandomHorizontalFlip.apply"])
        worst["hflip"] = max(worst.get("hflip", 0), (dt(x, sample_id=sid, epoch=0) - flipped).abs().max().item())
    assert "blur" in worst
    limits = {"rotation": 1e-6, "affine": 1e-6, "brightness": 0, "contrast": 1e-6, "saturation": 1e-6, "hue": 1e-6,
              "blur": 1e-6, "resized_crop": 1e-6, "erase": 0, "hflip": 0}
    assert {k: v for k, v in worst.items() if v > limits[k]} == {}, worst


def _crop_box(dt: DeterministicTransform, sid: int, h: int, w: int) -> tuple[int, int, int, int]:
    from dpa.integrations.torchvision._geometry import fit_box, offset

    v = dt.params(sid, 0)
    area = v["RandomResizedCrop.scale"] * h * w
    cw, ch = fit_box(area, v["RandomResizedCrop.ratio"], w, h)
    return offset(v["RandomResizedCrop.y"], h - ch), offset(v["RandomResizedCrop.x"], w - cw), ch, cw


# --------------------------------------------------------------------------- real DataLoader workers


class Pictures(Dataset):
    """A map-style dataset whose items are augmented by a deterministic torchvision pipeline."""

    def __init__(self, dt: DeterministicTransform, n: int = 24) -> None:
        self.dt, self.n, self.epoch = dt, n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        torch.manual_seed(1000 + i)  # a worker that reseeds the global generator changes nothing
        img = tv_tensors.Image(image(h=20, w=24, seed=i))
        out = self.dt(img, sample_id=i, epoch=self.epoch)
        return out.as_subclass(torch.Tensor), i


def _by_index(loader) -> dict[int, torch.Tensor]:
    out = {}
    for images, idx in loader:
        for im, i in zip(images, idx.tolist()):
            out[i] = im
    return out


def pipeline_for_workers() -> v2.Compose:
    return v2.Compose([v2.RandomResizedCrop((16, 16), antialias=True), v2.RandomHorizontalFlip(), v2.TrivialAugmentWide(),
                       v2.ColorJitter(0.2, 0.2), v2.GaussianNoise(sigma=0.02), v2.RandomErasing(0.5)])


@pytest.mark.parametrize("workers, batch, shuffle", [(0, 1, False), (2, 4, True), (3, 5, True)])
def test_dataloader_workers_give_the_same_images(workers, batch, shuffle) -> None:
    ds = Pictures(deterministic(pipeline_for_workers(), seed=21))
    reference = {i: ds[i][0] for i in range(len(ds))}
    got = _by_index(DataLoader(ds, batch_size=batch, shuffle=shuffle, num_workers=workers))
    assert got.keys() == reference.keys()
    assert all(torch.equal(got[i], reference[i]) for i in reference)


def test_spawned_workers_give_the_same_images() -> None:
    """Spawned workers (macOS's and Windows' default) get the pipeline by pickling."""
    ds = Pictures(deterministic(pipeline_for_workers(), seed=21), n=8)
    ds.epoch = 3
    reference = {i: ds[i][0] for i in range(len(ds))}
    got = _by_index(DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn"))
    assert all(torch.equal(got[i], reference[i]) for i in reference)


# --------------------------------------------------------------------------- versions and docs


def test_versions_outside_the_tested_range_are_refused(monkeypatch) -> None:
    import torchvision

    from dpa.integrations.torchvision import UnsupportedVersionError

    monkeypatch.setattr(torchvision, "__version__", "0.30.0")
    with pytest.raises(UnsupportedVersionError, match=r"supports torchvision >=0.21,<0.30 \(tested with 0.29.1\); found 0.30.0"):
        deterministic(v2.RandomRotation(5), seed=0)


_HIDE = """
import sys, importlib.abc, importlib.metadata as md
hidden, version = sys.argv[1].split(","), sys.argv[2] or None
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
real = md.version
def fake(dist):
    if dist != "torchvision":
        return real(dist)
    if version is None:
        raise md.PackageNotFoundError(dist)
    return version
md.version = fake
try:
    import dpa.integrations.torchvision
except ImportError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    "hidden, version, expected",
    [
        ("torchvision", "", "needs the 'torchvision' distribution"),
        ("torchvision.transforms.v2", "0.14.1", "supports torchvision >=0.21,<0.30 (tested with 0.29.1); found 0.14.1"),
    ],
    ids=["missing", "too-old-to-import"],
)
def test_importing_the_adapter_without_a_usable_torchvision_says_which_is_needed(hidden, version, expected) -> None:
    """The adapter imports torchvision's v2 API at import time: a missing or old torchvision is the version error,
    not a bare ModuleNotFoundError from inside the adapter (in a subprocess, with the library hidden)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _HIDE, hidden, version], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("UnsupportedVersionError") and expected in out.stdout, out.stdout


@pytest.mark.parametrize("module", ["dpa.integrations.torchvision", "dpa.integrations.torchvision._geometry"])
def test_docstring_examples(module) -> None:
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS).failed == 0


def test_importing_dpa_does_not_import_torchvision() -> None:
    import subprocess
    import sys

    code = "import sys, dpa, dpa.integrations; print('torchvision' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_readme_example_runs_with_real_workers(capsys) -> None:
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
              if "from dpa.integrations.torchvision import deterministic" in b and "DataLoader" in b]
    assert len(blocks) == 1
    # The same code, smaller: 16 images of 48 x 48 cropped to 32, two epochs.
    code = blocks[0].replace("(64, 3, 256, 256)", "(16, 3, 48, 48)").replace("range(64)", "range(16)")
    code = code.replace("RandomResizedCrop(224", "RandomResizedCrop(32").replace("range(3)", "range(2)")
    code = code.replace("        pass ", "        seen.append(batch)  # ")
    namespace: dict = {"__name__": "readme", "seen": []}
    exec(compile(code, "README.md", "exec"), namespace)
    assert "RandomResizedCrop.scale" in capsys.readouterr().out
    assert len(namespace["seen"]) == 2 and namespace["seen"][0].shape == (16, 3, 32, 32)
    # What the workers made is what the pipeline gives in this process, for the epoch each key carried.
    augment, base = namespace["augment"], namespace["base"]
    ds = namespace["ds"]
    keys = [(1, 5), (0, 2), (1, 9), (0, 0)]
    made = torch.cat([im for im, _ in DataLoader(ds, batch_size=2, sampler=keys, num_workers=2)])
    for k, (epoch, i) in enumerate(keys):
        assert torch.equal(made[k], augment(base[i][0], sample_id=i, epoch=epoch))
