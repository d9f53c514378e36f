"""AutoAugment, RandAugment and TrivialAugmentWide with the op choice, magnitude bin, sign and gates drawn by dpa.

These three do not use the ``make_params``/``transform`` protocol: their
``forward`` draws and applies in one loop. dpa runs the same loop with its own
values and torchvision's own op table (``_AUGMENTATION_SPACE``), magnitudes and
op implementation (``_apply_image_or_video_transform``), so every op and
magnitude is torchvision's; these private names are why the adapter checks the
torchvision version (docs/INTEGRATIONS.md).

Fields (``<prefix>.<field>``); ``op`` is an index into the transform's op
table in torchvision's order (``list(t._AUGMENTATION_SPACE)``):

* RandAugment: ``op_<k>`` and ``negate_<k>`` for each of its ``num_ops`` ops
  (the magnitude is the transform's ``magnitude`` bin).
* TrivialAugmentWide: ``op``, ``bin`` (magnitude bin in ``[0, num_magnitude_bins)``), ``negate``.
* AutoAugment: ``policy`` (index into the policy's sub-policies), and for each
  of its two ops ``gate_<k>`` (uniform in [0, 1): the op runs when it is below
  the sub-policy's probability) and ``negate_<k>``.

``negate`` is Bernoulli(1/2) and flips the sign of signed ops (rotations,
shears, translations, enhancements), as torchvision's coin does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torchvision.transforms import v2

from dpa import BernoulliSpec, IntegerSpec, Spec, UniformSpec

from ._rules import Fields

__all__ = ["AutoRule", "AUTO_RULES"]


@dataclass(frozen=True)
class AutoRule:
    """``specs(t) -> {field: Spec}``; ``ops(t, fields, height, width) -> [(op name, magnitude), ...]`` in order."""

    specs: Callable[[Any], dict[str, Spec]]
    ops: Callable[[Any, Fields, int, int], list[tuple[str, float]]]


def _magnitude(t: Any, op: str, num_bins: int, index: Any, height: int, width: int, negate: bool) -> float:
    magnitudes_fn, signed = t._AUGMENTATION_SPACE[op]
    magnitudes = magnitudes_fn(num_bins, height, width)
    if magnitudes is None:
        return 0.0
    magnitude = float(magnitudes[index])
    return -magnitude if signed and negate else magnitude


def _op_index(t: Any) -> IntegerSpec:
    return IntegerSpec(low=0, high=len(t._AUGMENTATION_SPACE) - 1)


def _coin() -> BernoulliSpec:
    return BernoulliSpec(p=0.5)


def _rand_specs(t: Any) -> dict[str, Spec]:
    specs: dict[str, Spec] = {}
    for k in range(t.num_ops):
        specs[f"op_{k}"] = _op_index(t)
        specs[f"negate_{k}"] = _coin()
    return specs


def _rand_ops(t: Any, v: Fields, height: int, width: int) -> list[tuple[str, float]]:
    names = list(t._AUGMENTATION_SPACE)
    out = []
    for k in range(t.num_ops):
        op = names[v[f"op_{k}"]]
        out.append((op, _magnitude(t, op, t.num_magnitude_bins, t.magnitude, height, width, v[f"negate_{k}"])))
    return out


def _trivial_specs(t: Any) -> dict[str, Spec]:
    return {"op": _op_index(t), "bin": IntegerSpec(low=0, high=t.num_magnitude_bins - 1), "negate": _coin()}


def _trivial_ops(t: Any, v: Fields, height: int, width: int) -> list[tuple[str, float]]:
    op = list(t._AUGMENTATION_SPACE)[v["op"]]
    return [(op, _magnitude(t, op, t.num_magnitude_bins, v["bin"], height, width, v["negate"]))]


def _policy_specs(t: Any) -> dict[str, Spec]:
    specs: dict[str, Spec] = {"policy": IntegerSpec(low=0, high=len(t._policies) - 1)}
    for k in range(max(len(sub) for sub in t._policies)):
        specs[f"gate_{k}"] = UniformSpec(low=0.0, high=1.0)
        specs[f"negate_{k}"] = _coin()
    return specs


def _policy_ops(t: Any, v: Fields, height: int, width: int) -> list[tuple[str, float]]:
    out = []
    for k, (op, probability, index) in enumerate(t._policies[v["policy"]]):
        if v[f"gate_{k}"] < probability:
            out.append((op, _magnitude(t, op, 10, index, height, width, v[f"negate_{k}"])))
    return out


AUTO_RULES: dict[type, AutoRule] = {
    v2.RandAugment: AutoRule(_rand_specs, _rand_ops),
    v2.TrivialAugmentWide: AutoRule(_trivial_specs, _trivial_ops),
    v2.AutoAugment: AutoRule(_policy_specs, _policy_ops),
}


def run_auto(t: Any, rule: AutoRule, v: Fields, inputs: tuple) -> Any:
    """``t.forward(*inputs)`` with dpa's choices: the same input checks, op table, magnitudes and ops."""
    flat_with_spec, image = t._flatten_and_extract_image_or_video(inputs)
    height, width = v2.functional.get_size(image)
    for op, magnitude in rule.ops(t, v, height, width):
        image = t._apply_image_or_video_transform(image, op, magnitude, interpolation=t.interpolation, fill=t._fill)
    return t._unflatten_and_insert_image_or_video(flat_with_spec, image)
