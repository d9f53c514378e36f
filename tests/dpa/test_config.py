"""AugmentationConfig: validation, JSON, fingerprints, presets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import dpa
from dpa import AugmentationConfig, UniformSpec


def test_from_dict_with_the_field_names_users_expect() -> None:
    cfg = AugmentationConfig.from_dict(
        {
            "rotation": {"kind": "uniform", "low": -15, "high": 15},
            "hflip": {"kind": "bernoulli", "p": 0.5},
            "noise": {"kind": "normal", "mean": 0, "std": 1, "p": 0.2, "identity": 0},
        }
    )
    assert cfg.output_names == ("rotation", "hflip", "noise")
    assert cfg["rotation"] == UniformSpec(low=-15, high=15)
    assert cfg.to_dict()["hflip"] == {"kind": "bernoulli", "p": 0.5}


def test_composite_outputs_are_flat() -> None:
    cfg = dpa.get_preset("moderate")
    names = cfg.output_names
    assert {"crop_x", "crop_y", "crop_w", "crop_h", "color_order_0", "color_order_3", "erasing_h"} <= set(names)
    assert "crop" not in names


@pytest.mark.parametrize("preset", dpa.preset_names())
def test_json_round_trip(preset: str, tmp_path) -> None:
    cfg = dpa.get_preset(preset)
    assert AugmentationConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "cfg.json"
    cfg.save(path)
    loaded = AugmentationConfig.load(path)
    assert loaded == cfg and loaded.fingerprint() == cfg.fingerprint()


def test_fingerprint_is_stable_across_processes() -> None:
    code = "import dpa; print(*(dpa.get_preset(n).fingerprint() for n in dpa.preset_names()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [dpa.get_preset(n).fingerprint() for n in dpa.preset_names()]
    # Pinned: a change here means the canonical form changed (bump STREAM_VERSION if values did).
    assert len(set(out)) == 3 and all(len(f) == 16 for f in out)


def test_fingerprint_ignores_order_but_not_content() -> None:
    a = AugmentationConfig({"a": {"kind": "uniform", "low": 0, "high": 1}, "b": {"kind": "bernoulli", "p": 0.5}})
    b = AugmentationConfig({"b": {"kind": "bernoulli", "p": 0.5}, "a": {"kind": "uniform", "low": 0, "high": 1}})
    c = AugmentationConfig({"a": {"kind": "uniform", "low": 0, "high": 2}, "b": {"kind": "bernoulli", "p": 0.5}})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


@pytest.mark.parametrize(
    "params, exc, fragment",
    [
        ({}, ValueError, "needs at least one parameter"),
        ({"": {"kind": "bernoulli", "p": 0.5}}, ValueError, "parameter name must be"),
        ({"9lives": {"kind": "bernoulli", "p": 0.5}}, ValueError, "parameter name must be"),
        ({"x": 3}, TypeError, "parameter 'x': expected a Spec or a spec dict; got int"),
        ({"rot": {"kind": "uniform", "low": 1, "high": 0}}, ValueError, "parameter 'rot': uniform: low must be <= high"),
        (
            {"crop": {"kind": "resized_crop"}, "crop_x": {"kind": "uniform", "low": 0, "high": 1}},
            ValueError,
            "output name 'crop_x' of parameter 'crop_x' clashes with an output of parameter 'crop'",
        ),
    ],
)
def test_bad_configs(params, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        AugmentationConfig(params)
    assert fragment in str(info.value)


def test_duplicate_name_between_dict_and_keyword() -> None:
    with pytest.raises(ValueError, match="duplicate parameter name 'a'"):
        AugmentationConfig({"a": UniformSpec(low=0, high=1)}, a=UniformSpec(low=0, high=2))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"a": {"kind": "uniform", "low": 0, "high": 1}', "config is not valid JSON"),
        ("[1, 2]", "a config must be a dict"),
        ('{"a": {"kind": "uniform", "low": 0}}', "missing field(s) ['high']"),
        ('{"a": 5}', "expected a Spec or a spec dict"),
        ("", "config is not valid JSON"),
    ],
)
def test_malformed_json(text: str, fragment: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        AugmentationConfig.from_json(text)
    assert fragment in str(info.value)


def test_load_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"a": ')
    with pytest.raises(ValueError, match="broken.json: config is not valid JSON"):
        AugmentationConfig.load(path)


def test_editing_returns_new_configs() -> None:
    cfg = dpa.get_preset("mild")
    more = cfg.with_params(shear={"kind": "uniform", "low": -5, "high": 5})
    assert "shear" in more and "shear" not in cfg
    assert "hue" not in more.without("hue")
    with pytest.raises(KeyError, match="no parameter"):
        cfg.without("nope")


def test_presets() -> None:
    assert dpa.preset_names() == ["mild", "moderate", "aggressive"]
    with pytest.raises(ValueError, match=r"unknown preset 'extreme'; valid presets: \['mild', 'moderate', 'aggressive'\]"):
        dpa.get_preset("extreme")
    # The presets document the augmentations users look for.
    aggressive = set(dpa.get_preset("aggressive"))
    assert {"rotation", "scale", "translate_x", "shear", "hflip", "vflip", "brightness", "contrast",
            "saturation", "hue", "noise_std", "blur_sigma", "crop", "erasing"} <= aggressive
    # Stronger presets have wider ranges.
    rot = [dpa.get_preset(n)["rotation"].high for n in dpa.preset_names()]
    assert rot == sorted(rot)
    json.dumps(dpa.get_preset("moderate").to_dict())


@pytest.mark.parametrize("preset", dpa.preset_names())
def test_configs_pickle(preset: str) -> None:
    """Spawned DataLoader workers and multiprocessing pools receive configs pickled."""
    import pickle

    cfg = dpa.get_preset(preset)
    copy = pickle.loads(pickle.dumps(cfg))
    assert copy == cfg and copy.fingerprint() == cfg.fingerprint() and copy.outputs == cfg.outputs
    assert dpa.gen_augmentation_params(9, copy, seed=4) == dpa.gen_augmentation_params(9, cfg, seed=4)


@pytest.mark.parametrize(
    "text, key",
    [
        ('{"rot": {"kind": "uniform", "low": 0, "high": 1}, "rot": {"kind": "uniform", "low": 0, "high": 9}}', "rot"),
        ('{"rot": {"kind": "uniform", "low": 0, "high": 1, "low": -1}}', "low"),
        ('{"c": {"kind": "choice", "values": [1, 2], "kind": "choice"}}', "kind"),
    ],
)
def test_json_with_a_key_twice_is_refused(text: str, key: str, tmp_path) -> None:
    with pytest.raises(ValueError, match=f"the key '{key}' appears twice in one JSON object"):
        AugmentationConfig.from_json(text)
    path = tmp_path / "cfg.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"cfg.json: config is not valid: the key '{key}' appears twice"):
        AugmentationConfig.load(path)


@pytest.mark.parametrize("name", ["rot\n", "rot\r", "a/b", "..", "a\\b", "a\x00b", "a\x1bb", " rot", "rot "])
def test_names_hold_no_control_characters_or_path_separators(name: str) -> None:
    with pytest.raises(ValueError, match="parameter name must be"):
        AugmentationConfig({name: {"kind": "bernoulli", "p": 0.5}})
    with pytest.raises(ValueError, match="parameter name must be"):
        AugmentationConfig.from_json(json.dumps({name: {"kind": "bernoulli", "p": 0.5}}))


def test_outputs_come_in_the_callers_order_whatever_was_cached() -> None:
    """Equal configs in another parameter order must not share a plan (they used to, via __eq__)."""
    a = AugmentationConfig({"x": {"kind": "uniform", "low": 0, "high": 1}, "y": {"kind": "bernoulli", "p": 0.5},
                            "z": {"kind": "permutation", "n": 3}})
    b = AugmentationConfig({"z": {"kind": "permutation", "n": 3}, "y": {"kind": "bernoulli", "p": 0.5},
                            "x": {"kind": "uniform", "low": 0, "high": 1}})
    assert a == b and a.fingerprint() == b.fingerprint() and a.output_names != b.output_names
    for seed in (0, 7):
        pa, pb = dpa.gen_augmentation_params(3, a, seed=seed), dpa.gen_augmentation_params(3, b, seed=seed)
        assert list(pa) == list(a.output_names) and list(pb) == list(b.output_names) and pa == pb
        ba, bb = dpa.gen_augmentation_batch([1, 2], a, seed=seed), dpa.gen_augmentation_batch([1, 2], b, seed=seed)
        assert list(ba) == list(a.output_names) and list(bb) == list(b.output_names)
        ca = next(dpa.stream_augmentation_chunks(4, a, seed=seed))
        cb = next(dpa.stream_augmentation_chunks(4, b, seed=seed))
        assert list(ca.params) == list(a.output_names) and list(cb.params) == list(b.output_names)
        assert list(next(dpa.stream_augmentation_chain(4, b, seed=seed))) == list(b.output_names)
    # Equal by value but not by type: an int choice and a float one must not share a plan either.
    i = AugmentationConfig({"c": {"kind": "choice", "values": [1, 2]}})
    f = AugmentationConfig({"c": {"kind": "choice", "values": [1.0, 2.0]}})
    assert type(dpa.gen_augmentation_params(0, i)["c"]) is int
    assert type(dpa.gen_augmentation_params(0, f)["c"]) is float


def test_equal_configs_have_equal_hashes_and_the_same_values() -> None:
    """Equality follows the fingerprint: an identity of -0.0 gives other bits than 0.0, so the configs differ."""
    spec = {"kind": "uniform", "low": 0, "high": 1, "p": 0.5}
    a = AugmentationConfig.from_dict({"u": {**spec, "identity": 0.0}, "b": {"kind": "bernoulli"}})
    b = AugmentationConfig.from_dict({"u": {**spec, "identity": -0.0}, "b": {"kind": "bernoulli"}})
    reordered = AugmentationConfig.from_dict({"b": {"kind": "bernoulli"}, "u": {**spec, "identity": 0.0}})
    assert a != b and a.fingerprint() != b.fingerprint()
    assert a == reordered and hash(a) == hash(reordered)  # order changes no value
    for x, y in ((a, b), (a, reordered), (b, b)):
        assert (x == y) == (hash(x) == hash(y) and x.fingerprint() == y.fingerprint())
