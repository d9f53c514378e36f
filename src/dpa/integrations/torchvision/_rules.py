"""One rule per supported random v2 transform: its hyperparameters as dpa specs, and dpa's values as its params.

A rule's ``specs(t)`` reads the transform's own hyperparameters (``t.degrees``,
``t.scale``, ``t.p`` ...) into dpa specs, keyed by field name; the pipeline
prefixes them (``"RandomRotation.angle"``). Its ``params(t, v, inputs, call)``
turns this sample's values into the exact dict the transform's public
``transform(inpt, params)`` takes (the dict its ``make_params`` would have
drawn), using the image size where torchvision does. Transforms that derive
from ``_RandomApplyTransform`` (the ones with a ``p``) also get a
``<prefix>.apply`` Bernoulli(p) gate, added by the pipeline.

Conventions (also in docs/INTEGRATIONS.md): dpa draws size-free values --
area fractions, aspect ratios, positions in [0, 1) -- and scales them to the
image here, the same way for every image of a given size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from dpa import IntegerSpec, LogUniformSpec, PermutationSpec, Spec, UniformSpec
from dpa.apply import noise_field

from ._geometry import fit_box, offset, perspective_coefficients, perspective_endpoints

__all__ = ["Call", "Fields", "Rule", "RULES", "GATE_ONLY"]


@dataclass(frozen=True)
class Call:
    """One call of the pipeline: this sample's dpa values and what its noise fields are keyed by.

    ``noise_seeds(prefix)`` is the seed of a Gaussian-noise transform's field
    (the rule every adapter shares: the pipeline's first noise transform uses
    the run's seed, later ones their own).
    """

    values: Mapping[str, Any]
    sample_id: int
    seed: int
    epoch: int
    noise_seeds: Callable[[str], int]

    def noise_like(self, x: torch.Tensor, seed: int, name: str = "noise_field") -> torch.Tensor:
        """Standard normal noise shaped like ``x`` (float64, on ``x``'s device): ``dpa.apply.noise_field``."""
        z = noise_field((1, x.numel()), [self.sample_id], seed=seed, epoch=self.epoch, device=x.device, name=name)
        return z.reshape(x.shape)


class Fields:
    """This transform's values by field name: ``v["angle"]`` is ``values["RandomRotation.angle"]``."""

    __slots__ = ("_values", "_prefix")

    def __init__(self, values: Mapping[str, Any], prefix: str) -> None:
        self._values = values
        self._prefix = prefix

    def __getitem__(self, field: str) -> Any:
        return self._values[f"{self._prefix}.{field}"]

    @property
    def prefix(self) -> str:
        return self._prefix


Params = Callable[[Any, Fields, list, Call], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Rule:
    """How dpa drives one transform class.

    Attributes:
        specs: ``t -> {field: Spec}``, the transform's hyperparameters as dpa specs.
        params: ``(t, fields, inputs, call) -> params`` for ``t.transform``; None leaves the inputs as they are.
        transform: replaces ``t.transform(inpt, params)`` where torchvision draws inside the kernel
            (GaussianNoise): ``(t, inpt, params, k, fields, call)``, ``k`` the input's index among those transformed.
    """

    specs: Callable[[Any], dict[str, Spec]]
    params: Params
    transform: Callable[..., Any] | None = None


def _uniform(low: float, high: float) -> UniformSpec:
    return UniformSpec(low=float(low), high=float(high))


def _unit() -> UniformSpec:
    """A position in [0, 1): where a box goes in the room it has."""
    return UniformSpec(low=0.0, high=1.0)


def _no_specs(t: Any) -> dict[str, Spec]:
    return {}


def _own_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    """The transform's own make_params, for the classes whose make_params draws nothing (only the gate is random)."""
    return t.make_params(inputs)


# --------------------------------------------------------------------------- geometry


def _resized_crop_specs(t: Any) -> dict[str, Spec]:
    return {"scale": _uniform(*t.scale), "ratio": LogUniformSpec(low=float(t.ratio[0]), high=float(t.ratio[1])),
            "x": _unit(), "y": _unit()}


def _resized_crop_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    height, width = v2.query_size(inputs)
    area = min(v["scale"], 1.0) * height * width  # torchvision's scale > 1 never fits: it falls back to a full crop
    w, h = fit_box(area, v["ratio"], width, height) or (width, height)
    return dict(top=offset(v["y"], height - h), left=offset(v["x"], width - w), height=h, width=w)


def _crop_specs(t: Any) -> dict[str, Spec]:
    return {"x": _unit(), "y": _unit()}


def _crop_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    # torchvision's own padding arithmetic (RandomCrop.make_params); only top and left are drawn.
    padded_height, padded_width = v2.query_size(inputs)
    if t.padding is not None:
        pad_left, pad_right, pad_top, pad_bottom = t.padding
        padded_height += pad_top + pad_bottom
        padded_width += pad_left + pad_right
    else:
        pad_left = pad_right = pad_top = pad_bottom = 0
    cropped_height, cropped_width = t.size
    if t.pad_if_needed:
        if padded_height < cropped_height:
            diff = cropped_height - padded_height
            pad_top += diff
            pad_bottom += diff
            padded_height += 2 * diff
        if padded_width < cropped_width:
            diff = cropped_width - padded_width
            pad_left += diff
            pad_right += diff
            padded_width += 2 * diff
    if padded_height < cropped_height or padded_width < cropped_width:
        raise ValueError(
            f"Required crop size {(cropped_height, cropped_width)} is larger than "
            f"{'padded ' if t.padding is not None else ''}input image size {(padded_height, padded_width)}."
        )
    padding = [pad_left, pad_top, pad_right, pad_bottom]
    top = offset(v["y"], padded_height - cropped_height)
    left = offset(v["x"], padded_width - cropped_width)
    return dict(
        needs_crop=padded_height > cropped_height or padded_width > cropped_width,
        top=top, left=left, height=cropped_height, width=cropped_width,
        needs_pad=any(padding), padding=padding,
    )


def _rotation_specs(t: Any) -> dict[str, Spec]:
    return {"angle": _uniform(*t.degrees)}


def _rotation_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    return dict(angle=v["angle"])


def _affine_specs(t: Any) -> dict[str, Spec]:
    specs: dict[str, Spec] = {"angle": _uniform(*t.degrees)}
    if t.translate is not None:
        specs["translate_x"] = _uniform(-t.translate[0], t.translate[0])
        specs["translate_y"] = _uniform(-t.translate[1], t.translate[1])
    if t.scale is not None:
        specs["scale"] = _uniform(*t.scale)
    if t.shear is not None:
        specs["shear_x"] = _uniform(t.shear[0], t.shear[1])
        if len(t.shear) == 4:
            specs["shear_y"] = _uniform(t.shear[2], t.shear[3])
    return specs


def _affine_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    height, width = v2.query_size(inputs)
    translate = (0, 0)
    if t.translate is not None:  # a fraction of the size, rounded to whole pixels as torchvision does
        translate = (int(round(v["translate_x"] * width)), int(round(v["translate_y"] * height)))
    return dict(
        angle=v["angle"],
        translate=translate,
        scale=v["scale"] if t.scale is not None else 1.0,
        shear=(
            v["shear_x"] if t.shear is not None else 0.0,
            v["shear_y"] if t.shear is not None and len(t.shear) == 4 else 0.0,
        ),
    )


_CORNERS = ("tl_x", "tl_y", "tr_x", "tr_y", "br_x", "br_y", "bl_x", "bl_y")


def _perspective_specs(t: Any) -> dict[str, Spec]:
    return {c: _uniform(0.0, t.distortion_scale) for c in _CORNERS}


def _perspective_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    height, width = v2.query_size(inputs)
    start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
    end = perspective_endpoints([v[c] for c in _CORNERS], t.distortion_scale, height, width)
    return dict(coefficients=perspective_coefficients(start, end))


def _zoom_out_specs(t: Any) -> dict[str, Spec]:
    return {"side": _uniform(*t.side_range), "x": _unit(), "y": _unit()}


def _zoom_out_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    orig_h, orig_w = v2.query_size(inputs)
    canvas_width, canvas_height = int(orig_w * v["side"]), int(orig_h * v["side"])
    left = int((canvas_width - orig_w) * v["x"])
    top = int((canvas_height - orig_h) * v["y"])
    return dict(padding=[left, top, canvas_width - (left + orig_w), canvas_height - (top + orig_h)])


def _scale_jitter_specs(t: Any) -> dict[str, Spec]:
    return {"scale": _uniform(*t.scale_range)}


def _scale_jitter_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    orig_height, orig_width = v2.query_size(inputs)
    r = min(t.target_size[1] / orig_height, t.target_size[0] / orig_width) * v["scale"]
    return dict(size=(int(orig_height * r), int(orig_width * r)))


def _shortest_size_specs(t: Any) -> dict[str, Spec]:
    return {"index": IntegerSpec(low=0, high=len(t.min_size) - 1)} if len(t.min_size) > 1 else {}


def _shortest_size_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    orig_height, orig_width = v2.query_size(inputs)
    min_size = t.min_size[v["index"] if len(t.min_size) > 1 else 0]
    r = min_size / min(orig_height, orig_width)
    if t.max_size is not None:
        r = min(r, t.max_size / max(orig_height, orig_width))
    return dict(size=(int(orig_height * r), int(orig_width * r)))


# --------------------------------------------------------------------------- colour, blur, noise, erasing

_JITTER = ("brightness", "contrast", "saturation", "hue")


def _jitter_specs(t: Any) -> dict[str, Spec]:
    specs: dict[str, Spec] = {name: _uniform(*getattr(t, name)) for name in _JITTER if getattr(t, name) is not None}
    if len(specs) >= 2:
        specs["order"] = PermutationSpec(n=4)  # torchvision's fn_idx: a random order of all four
    return specs


def _jitter_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    active = [name for name in _JITTER if getattr(t, name) is not None]
    order = [v[f"order_{i}"] for i in range(4)] if len(active) >= 2 else [0, 1, 2, 3]
    out: dict[str, Any] = {"fn_idx": order}
    for name in _JITTER:
        out[f"{name}_factor"] = v[name] if getattr(t, name) is not None else None
    return out


def _blur_specs(t: Any) -> dict[str, Spec]:
    return {"sigma": _uniform(*t.sigma)}


def _blur_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    return dict(sigma=[v["sigma"], v["sigma"]])


def _noise_specs(t: Any) -> dict[str, Spec]:
    # Not random per sample, but in the config so that its fingerprint changes with them.
    return {"mean": _uniform(t.mean, t.mean), "sigma": _uniform(t.sigma, t.sigma)}


def _noise_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    return dict(mean=v["mean"], sigma=v["sigma"])


_TARGETS = tuple(getattr(tv_tensors, n) for n in ("BoundingBoxes", "Mask", "KeyPoints") if hasattr(tv_tensors, n))


def _noise_transform(t: Any, inpt: Any, params: dict[str, Any], k: int, v: Fields, call: Call) -> Any:
    """torchvision's gaussian_noise kernel with dpa's noise field in place of ``torch.randn_like``."""
    if isinstance(inpt, _TARGETS):
        return inpt  # torchvision passes these through unchanged
    if not isinstance(inpt, torch.Tensor):
        raise ValueError("Gaussian Noise is not implemented for PIL images.")
    mean, sigma = params["mean"], params["sigma"]
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    image = inpt.as_subclass(torch.Tensor)
    # The k-th image of one sample (rare: v2 transforms every image it is given) draws its own stream.
    seed, stream = call.noise_seeds(v.prefix), "noise_field" if k == 0 else f"noise_field.{k}"
    if image.is_floating_point():
        out = image + (mean + call.noise_like(image, seed, stream).to(image.dtype) * sigma)
        if t.clip:
            out = torch.clamp(out, 0, 1)
    elif image.dtype == torch.uint8:
        z = call.noise_like(image, seed, stream).to(torch.float32)
        out = image + ((mean * 255) + z * (sigma * 255)).to(torch.int16)
        if t.clip:
            out = torch.clamp(out, 0, 255)
        out = out.to(torch.uint8)
    else:
        raise ValueError(f"Input tensor is expected to be in uint8 or float dtype, got dtype={image.dtype}")
    return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


def _erasing_specs(t: Any) -> dict[str, Spec]:
    return {"scale": _uniform(*t.scale), "ratio": LogUniformSpec(low=float(t.ratio[0]), high=float(t.ratio[1])),
            "x": _unit(), "y": _unit()}


def _erasing_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    img_c, img_h, img_w = v2.query_chw(inputs)
    if t.value is not None and len(t.value) not in (1, img_c):
        raise ValueError(
            f"If value is a sequence, it should have either a single value or {img_c} (number of inpt channels)"
        )
    # torchvision's ratio here is height / width and the box must be strictly smaller than the image.
    box = fit_box(img_h * img_w * v["scale"], v["ratio"], img_h - 1, img_w - 1)
    if box is None:  # no box of that area fits: torchvision's fallback after its retries, no erasing
        return dict(i=0, j=0, h=img_h, w=img_w, v=None)
    h, w = box
    if t.value is None:  # 'random': per-pixel normals, from dpa's noise field, stream '<prefix>.noise'
        value = call.noise_like(torch.empty(img_c, h, w), call.seed, f"{v.prefix}.noise").to(torch.float32)
    else:
        value = torch.tensor(t.value)[:, None, None]
    return dict(i=offset(v["y"], img_h - h), j=offset(v["x"], img_w - w), h=h, w=w, v=value)


def _jpeg_specs(t: Any) -> dict[str, Spec]:
    return {"quality": IntegerSpec(low=int(t.quality[0]), high=int(t.quality[1]))}


def _jpeg_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    return dict(quality=v["quality"])


def _resize_specs(t: Any) -> dict[str, Spec]:
    return {"size": IntegerSpec(low=int(t.min_size), high=int(t.max_size) - 1)}  # torch.randint's high is exclusive


def _resize_params(t: Any, v: Fields, inputs: list, call: Call) -> dict[str, Any]:
    return dict(size=[v["size"]])


# --------------------------------------------------------------------------- the table

#: Random transforms whose make_params draws nothing: only their ``p`` gate is random.
GATE_ONLY = (
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomGrayscale", "RandomInvert", "RandomPosterize",
    "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast", "RandomEqualize",
)

_TABLE: dict[str, Rule] = {
    **{name: Rule(_no_specs, _own_params) for name in GATE_ONLY},
    "RandomResizedCrop": Rule(_resized_crop_specs, _resized_crop_params),
    "RandomCrop": Rule(_crop_specs, _crop_params),
    "RandomRotation": Rule(_rotation_specs, _rotation_params),
    "RandomAffine": Rule(_affine_specs, _affine_params),
    "RandomPerspective": Rule(_perspective_specs, _perspective_params),
    "RandomZoomOut": Rule(_zoom_out_specs, _zoom_out_params),
    "ScaleJitter": Rule(_scale_jitter_specs, _scale_jitter_params),
    "RandomShortestSize": Rule(_shortest_size_specs, _shortest_size_params),
    "RandomResize": Rule(_resize_specs, _resize_params),
    "ColorJitter": Rule(_jitter_specs, _jitter_params),
    "GaussianBlur": Rule(_blur_specs, _blur_params),
    "GaussianNoise": Rule(_noise_specs, _noise_params, _noise_transform),
    "RandomErasing": Rule(_erasing_specs, _erasing_params),
    "JPEG": Rule(_jpeg_specs, _jpeg_params),
}

#: torchvision class -> rule, for the classes this torchvision has.
RULES: dict[type, Rule] = {getattr(v2, name): rule for name, rule in _TABLE.items() if hasattr(v2, name)}
