"""One handler per albumentations 2.0 transform: its dpa specs, and the params its ``apply_with_params`` takes.

Each handler mirrors the transform's own ``get_params`` /
``get_params_dependent_on_data`` with every random draw replaced by a dpa
value (same distribution, same derived quantities: matrices, crop
coordinates, kernels), so the transform's own ``apply``, ``apply_to_mask``,
``apply_to_bboxes`` and ``apply_to_keypoints`` run on parameters dpa chose.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from dpa.composite import PermutationSpec
from dpa.integrations._adapt import HandlerTable
from dpa.specs import BernoulliSpec, IntegerSpec, LogUniformSpec, Spec, UniformSpec

__all__ = ["Handler", "TABLE", "GATE_ONLY", "DETERMINISTIC"]

# Random transforms whose only randomness is their gate p (their own params draw nothing).
GATE_ONLY = ("HorizontalFlip", "VerticalFlip", "Transpose", "ToGray", "ToSepia", "InvertImg", "Equalize")
# Deterministic transforms: they pass through (with p < 1, their gate is drawn by dpa).
DETERMINISTIC = (
    "NoOp", "Normalize", "Resize", "CenterCrop", "Crop", "PadIfNeeded", "LongestMaxSize", "SmallestMaxSize",
    "ToFloat", "FromFloat", "ToTensorV2",
)


def _uniform(bounds: Any) -> UniformSpec:
    return UniformSpec(low=float(bounds[0]), high=float(bounds[1]))


def _unit() -> UniformSpec:
    return UniformSpec(low=0.0, high=1.0)


class Handler:
    noisy = False  # draws a noise field
    """Specs and params of one albumentations class."""

    def fields(self, t: Any) -> dict[str, Spec]:
        return {}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        """The params ``t.get_params()`` + ``t.get_params_dependent_on_data()`` would give, from dpa's values ``v``.

        ``params`` already holds ``update_transform_params``' ``shape``,
        ``interpolation``, ``fill``...; ``noise(shape)`` is this transform's
        standard normal field for the sample (float64, dpa's hash).
        """
        return {}

    def check(self, t: Any) -> str:
        """Why this instance cannot be driven ("" when it can)."""
        return ""


def _image(data: Mapping[str, Any]) -> np.ndarray:
    return data["image"] if "image" in data else data["images"][0]


class _GateOnly(Handler):
    def check(self, t: Any) -> str:
        if getattr(t, "position", None) == "random":
            return "position='random' draws where to pad"
        if type(t).__name__ in ("LongestMaxSize", "SmallestMaxSize") and isinstance(t.max_size, (list, tuple)):
            return "a list of max_size draws one of them"
        return ""

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        # These draw nothing: their own methods give the rest (dpa's copy has
        # no RNG to draw from, so a draw would raise instead of being random).
        out = t.get_params()
        out.update(params)
        return t.get_params_dependent_on_data(out, data)


class _ResizedCrop(Handler):
    """RandomResizedCrop: area uniform in ``scale``, width/height log-uniform in ``ratio``, start uniform.

    albumentations redraws a box that does not fit (up to 10 times, then a
    centre crop); dpa narrows the ratio to the widest that fits the drawn
    area, so every draw gives a valid box.
    """

    def fields(self, t: Any) -> dict[str, Spec]:
        return {"area": _uniform(t.scale), "ratio": LogUniformSpec(low=float(t.ratio[0]), high=float(t.ratio[1])),
                "x": _unit(), "y": _unit()}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        from albumentations.augmentations.crops import functional as fcrops

        hh, ww = params["shape"][:2]
        area = v["area"] * hh * ww
        ratio = min(max(v["ratio"], area / hh**2), ww**2 / area)
        width = min(max(round(math.sqrt(area * ratio)), 1), ww)
        height = min(max(round(math.sqrt(area / ratio)), 1), hh)
        return {"crop_coords": fcrops.get_crop_coords((hh, ww), (height, width), v["y"], v["x"])}


class _Affine(Handler):
    """Affine and ShiftScaleRotate (an Affine with shear 0): rotation, scale, translation and shear as Affine draws them."""

    def fields(self, t: Any) -> dict[str, Spec]:
        out: dict[str, Spec] = {"rotate": _uniform(t.rotate)}
        for axis in ("x", "y") if not t.keep_ratio else ("x",):
            out.update(_scale_fields(f"scale_{axis}", t.scale[axis], t.balanced_scale))
        if t.translate_px is not None:
            for axis in ("x", "y"):
                lo, hi = t.translate_px[axis]
                out[f"translate_{axis}"] = IntegerSpec(low=int(lo), high=int(hi))
        elif t.translate_percent is not None:
            for axis in ("x", "y"):
                out[f"translate_{axis}"] = _uniform(t.translate_percent[axis])
        out["shear_x"] = _uniform(t.shear["x"])
        out["shear_y"] = _uniform(t.shear["y"])
        return out

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        from albumentations.augmentations.geometric import functional as fgeometric

        image_shape = params["shape"][:2]
        hh, ww = image_shape
        if t.translate_px is not None:
            translate = {"x": int(v["translate_x"]), "y": int(v["translate_y"])}
        elif t.translate_percent is not None:
            translate = {"x": int(v["translate_x"] * ww), "y": int(v["translate_y"] * hh)}
        else:
            translate = {"x": 0, "y": 0}
        shear = {"x": -v["shear_x"], "y": -v["shear_y"]}
        scale = {"x": _scale_value(v, "scale_x")}
        scale["y"] = scale["x"] if t.keep_ratio else _scale_value(v, "scale_y")
        rotate = v["rotate"]
        matrix = fgeometric.create_affine_transformation_matrix(translate, shear, scale, rotate, fgeometric.center(image_shape))
        bbox_matrix = fgeometric.create_affine_transformation_matrix(
            translate, shear, scale, rotate, fgeometric.center_bbox(image_shape)
        )
        if t.fit_output:
            matrix, output_shape = fgeometric.compute_affine_warp_output_shape(matrix, image_shape)
            bbox_matrix, _ = fgeometric.compute_affine_warp_output_shape(bbox_matrix, image_shape)
        else:
            output_shape = image_shape
        return {"rotate": rotate, "scale": scale, "matrix": matrix, "bbox_matrix": bbox_matrix, "output_shape": output_shape}


def _scale_fields(name: str, bounds: Any, balanced: bool) -> dict[str, Spec]:
    """Affine's scale draw: uniform in ``bounds``; with ``balanced_scale``, a fair coin between below and above 1."""
    lo, hi = float(bounds[0]), float(bounds[1])
    if not balanced:
        return {name: UniformSpec(low=lo, high=hi)}
    if lo < 1.0 < hi:
        return {f"{name}_above_one": BernoulliSpec(p=0.5), f"{name}_low": UniformSpec(low=lo, high=1.0),
                f"{name}_high": UniformSpec(low=1.0, high=hi)}
    if lo < 1.0:
        return {name: UniformSpec(low=lo, high=1.0)}
    if hi > 1.0:
        return {name: UniformSpec(low=1.0, high=hi)}
    return {}


def _scale_value(v: Mapping[str, Any], name: str) -> float:
    if name in v:
        return float(v[name])
    if f"{name}_above_one" in v:
        return float(v[f"{name}_high"] if v[f"{name}_above_one"] else v[f"{name}_low"])
    return 1.0  # balanced with no room below or above 1: albumentations uses 1


class _Rotate(Handler):
    def fields(self, t: Any) -> dict[str, Spec]:
        return {"angle": _uniform(t.limit)}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        from albumentations.augmentations.geometric import functional as fgeometric

        angle = v["angle"]
        shape = params["shape"][:2]
        if t.crop_border:
            out = type(t)._rotated_rect_with_max_area(shape[0], shape[1], angle)
        else:
            out = {"x_min": -1, "x_max": -1, "y_min": -1, "y_max": -1}
        ident = ({"x": 0, "y": 0}, {"x": 0, "y": 0}, {"x": 1, "y": 1})
        out["matrix"] = fgeometric.create_affine_transformation_matrix(*ident, angle, fgeometric.center(shape))
        out["bbox_matrix"] = fgeometric.create_affine_transformation_matrix(*ident, angle, fgeometric.center_bbox(shape))
        return out


class _ColorJitter(Handler):
    def fields(self, t: Any) -> dict[str, Spec]:
        return {"brightness": _uniform(t.brightness), "contrast": _uniform(t.contrast),
                "saturation": _uniform(t.saturation), "hue": _uniform(t.hue), "order": PermutationSpec(n=4)}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        return {"brightness": v["brightness"], "contrast": v["contrast"], "saturation": v["saturation"], "hue": v["hue"],
                "order": [int(v[f"order_{i}"]) for i in range(4)]}


class _BrightnessContrast(Handler):
    def fields(self, t: Any) -> dict[str, Spec]:
        return {"brightness": _uniform(t.brightness_limit), "contrast": _uniform(t.contrast_limit)}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        from albumentations.augmentations.pixel import functional as fpixel
        from albumentations.core.type_definitions import MAX_VALUES_BY_DTYPE

        image = _image(data)
        alpha = 1.0 + v["contrast"]
        max_value = MAX_VALUES_BY_DTYPE[image.dtype]
        beta = v["brightness"] * max_value if t.brightness_by_max else v["brightness"] * np.mean(image)
        if t.ensure_safe_range:
            alpha, beta = fpixel.get_safe_brightness_contrast_params(alpha, beta, max_value)
        return {"alpha": alpha, "beta": beta}


class _HueSaturationValue(Handler):
    def fields(self, t: Any) -> dict[str, Spec]:
        return {"hue_shift": _uniform(t.hue_shift_limit), "sat_shift": _uniform(t.sat_shift_limit),
                "val_shift": _uniform(t.val_shift_limit)}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        return {"hue_shift": v["hue_shift"], "sat_shift": v["sat_shift"], "val_shift": v["val_shift"]}


class _GaussianBlur(Handler):
    def fields(self, t: Any) -> dict[str, Spec]:
        return {"sigma": _uniform(t.sigma_limit), "ksize": IntegerSpec(low=int(t.blur_limit[0]), high=int(t.blur_limit[1]))}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        from albumentations.augmentations.blur import functional as fblur

        return {"kernel": fblur.create_gaussian_kernel_1d(v["sigma"], int(v["ksize"]))}


class _GaussNoise(Handler):
    """GaussNoise: ``(mean + std * z) * max_value``, ``z`` the sample's dpa noise field (HWC order)."""

    noisy = True

    def fields(self, t: Any) -> dict[str, Spec]:
        return {"std": _uniform(t.std_range), "mean": _uniform(t.mean_range)}

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        import cv2
        from albumentations.augmentations.geometric import functional as fgeometric
        from albumentations.core.type_definitions import MAX_VALUES_BY_DTYPE

        image = _image(data)
        shape = image.shape
        max_value = MAX_VALUES_BY_DTYPE[image.dtype]
        hh, ww = shape[:2]
        if t.noise_scale_factor != 1.0:
            hh, ww = max(1, int(hh * t.noise_scale_factor)), max(1, int(ww * t.noise_scale_factor))
        field_shape = (hh, ww) + tuple(shape[2:]) if t.per_channel else (hh, ww)
        z = noise(field_shape)
        noise_map = ((v["mean"] + v["std"] * z) * max_value).astype(np.float32)
        if t.noise_scale_factor != 1.0:
            noise_map = fgeometric.resize(noise_map, shape[:2], interpolation=cv2.INTER_LINEAR)
        if not t.per_channel and len(shape) > 2:
            noise_map = np.broadcast_to(noise_map[..., None], shape)
        return {"noise_map": noise_map}


class _CoarseDropout(Handler):
    """CoarseDropout: a number of holes, then each hole's size and corner; up to ``num_holes_range[1]`` holes drawn.

    Pixel sizes (a range reaching 1 or more) are integer specs; albumentations
    caps them at the image's size, and so does dpa (an image smaller than the
    range's top gets the capped size more often than albumentations gives it).
    """

    def _pixels(self, t: Any) -> bool:
        return t.hole_height_range[1] >= 1

    def fields(self, t: Any) -> dict[str, Spec]:
        lo, hi = (int(x) for x in t.num_holes_range)
        out: dict[str, Spec] = {"num_holes": IntegerSpec(low=lo, high=hi)}
        for k in range(hi):
            if self._pixels(t):
                out[f"hole_height_{k}"] = IntegerSpec(low=int(t.hole_height_range[0]), high=int(t.hole_height_range[1]))
                out[f"hole_width_{k}"] = IntegerSpec(low=int(t.hole_width_range[0]), high=int(t.hole_width_range[1]))
            else:
                out[f"hole_height_{k}"] = _uniform(t.hole_height_range)
                out[f"hole_width_{k}"] = _uniform(t.hole_width_range)
            out[f"y_{k}"] = _unit()
            out[f"x_{k}"] = _unit()
        out["fill_seed"] = IntegerSpec(low=0, high=2**32 - 2)  # what the "random" fills are made from
        return out

    def params(self, t: Any, v: Mapping[str, Any], params: dict[str, Any], data: dict[str, Any], noise: Any) -> dict:
        hh, ww = params["shape"][:2]
        holes = []
        for k in range(int(v["num_holes"])):
            if self._pixels(t):
                h = min(int(v[f"hole_height_{k}"]), hh)
                w = min(int(v[f"hole_width_{k}"]), ww)
            else:
                h, w = int(hh * v[f"hole_height_{k}"]), int(ww * v[f"hole_width_{k}"])
            y0 = min(int(v[f"y_{k}"] * (hh - h + 1)), hh - h)
            x0 = min(int(v[f"x_{k}"] * (ww - w + 1)), ww - w)
            holes.append([x0, y0, x0 + w, y0 + h])
        arr = np.array(holes, dtype=np.int64).reshape(-1, 4)
        return {"holes": arr, "seed": int(v["fill_seed"])}


_HANDLERS: dict[str, Handler] = {
    **{name: _GateOnly() for name in GATE_ONLY + DETERMINISTIC},
    "RandomResizedCrop": _ResizedCrop(),
    "Affine": _Affine(),
    "ShiftScaleRotate": _Affine(),
    "Rotate": _Rotate(),
    "ColorJitter": _ColorJitter(),
    "RandomBrightnessContrast": _BrightnessContrast(),
    "HueSaturationValue": _HueSaturationValue(),
    "GaussianBlur": _GaussianBlur(),
    "GaussNoise": _GaussNoise(),
    "CoarseDropout": _CoarseDropout(),
}


def _classes() -> dict[type, Handler]:
    import albumentations as A

    out = {getattr(A, name): h for name, h in _HANDLERS.items() if hasattr(A, name)}
    try:
        from albumentations.pytorch import ToTensorV2

        out[ToTensorV2] = _HANDLERS["ToTensorV2"]
    except ImportError:  # albumentations.pytorch needs torch
        pass
    return out


TABLE = HandlerTable("albumentations", _HANDLERS, DETERMINISTIC, _classes)
