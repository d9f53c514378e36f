"""One handler per kornia augmentation: its dpa specs, and the ``params`` dict its ``forward`` takes.

A handler turns a transform's own hyperparameters into dpa specs (ranges as
the transform states them) and, per batch, turns dpa's per-sample values into
the exact dict that transform's parameter generator would have produced
(``forward_parameters``' output is the template), so the transform runs its
own code on parameters dpa chose. Everything here is per sample: no value
depends on another sample of the batch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch

from dpa.composite import PermutationSpec
from dpa.integrations._adapt import HandlerTable
from dpa.specs import BernoulliSpec, LogUniformSpec, Spec, UniformSpec

__all__ = ["Ctx", "Handler", "TABLE", "DETERMINISTIC"]

# kornia augmentations whose only randomness is the per-sample gate ``p``:
# with p == 1 (and p_batch == 1) they pass through untouched.
DETERMINISTIC = ("Resize", "LongestMaxSize", "SmallestMaxSize", "CenterCrop", "PadTo", "Normalize", "Denormalize")


@dataclass
class Ctx:
    """What a handler sees of one batch: its own values, the batch geometry and the noise key."""

    values: Mapping[str, torch.Tensor]  # this transform's fields -> (B,) CPU tensors
    shape: tuple[int, int, int, int]  # (B, C, H, W) of the transform's input
    dtype: torch.dtype  # of kornia's params (the image's float dtype)
    device: torch.device  # the image's device
    sample_ids: np.ndarray  # (B,) uint64
    noise_seed: int  # the seed of this transform's noise field
    epoch: int

    def f(self, name: str) -> torch.Tensor:
        """A float64 field."""
        return self.values[name].to(torch.float64)

    @property
    def n(self) -> int:
        return self.shape[0]


class Handler:
    noisy = False  # draws a noise field
    """Specs and params of one kornia class (subclasses below)."""

    def fields(self, module: Any) -> dict[str, Spec]:
        return {}

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        return {}

    def input_shape(self, module: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape kornia records as ``forward_input_shape`` (RandomCrop's padded canvas)."""
        return tuple(shape)

    def prepare(self, module: Any) -> None:
        """Adjust dpa's private copy of the module before it runs (ColorJitter's per-sample order)."""


# --------------------------------------------------------------------------- ranges


def _number(x: Any) -> float:
    """A Python float; float32 tensor values come back as the shortest decimal that rounds to them."""
    if isinstance(x, torch.Tensor):
        x = x.item()
        # kornia keeps some ranges as float32 tensors: 0.8 is stored as
        # 0.800000011920929; str() of the float32 gives back "0.8".
        return float(str(np.float32(x)))
    return float(x)


def _seq(x: Any) -> list[float]:
    if isinstance(x, torch.Tensor):
        return [_number(v) for v in x.flatten()]
    return [_number(v) for v in x]


def _bound(factor: Any, center: float, floor: float = -math.inf) -> tuple[float, float]:
    """kornia's ``_range_bound``: a number ``x`` is ``[center - x, center + x]`` (low end at least ``floor``)."""
    if isinstance(factor, (int, float)) or (isinstance(factor, torch.Tensor) and factor.dim() == 0):
        x = _number(factor)
        return max(center - x, floor), center + x
    low, high = _seq(factor)
    return low, high


def _uniform(bounds: tuple[float, float]) -> UniformSpec:
    return UniformSpec(low=bounds[0], high=bounds[1])


# --------------------------------------------------------------------------- boxes


def _corners(x0: torch.Tensor, y0: torch.Tensor, w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """(B, 4, 2) inclusive corners, top-left clockwise, as ``kornia.geometry.bbox.bbox_generator``."""
    x1, y1 = x0 + w - 1, y0 + h - 1
    return torch.stack(
        [torch.stack([x0, y0], -1), torch.stack([x1, y0], -1), torch.stack([x1, y1], -1), torch.stack([x0, y1], -1)],
        dim=1,
    )


def _start(u: torch.Tensor, room: Any) -> torch.Tensor:
    """kornia's ``_truncate_to_start``: ``floor(u * room)``, ``room`` the number of valid starts (at least 1)."""
    room = torch.as_tensor(room, dtype=torch.float64).clamp(min=1)
    return torch.minimum((u * room).floor(), room - 1)


def _crop_params(
    x0: torch.Tensor, y0: torch.Tensor, w: torch.Tensor, h: torch.Tensor, in_hw: tuple[int, int], out_hw: tuple[int, int], ctx: Ctx
) -> dict[str, torch.Tensor]:
    """``CropGenerator``'s output: ``src``/``dst`` corners and the input and output sizes."""
    n = ctx.n
    zeros = torch.zeros(n, dtype=torch.float64)
    oh, ow = out_hw
    return {
        "src": _corners(x0, y0, w, h).to(ctx.dtype),
        "dst": _corners(zeros, zeros, torch.full((n,), float(ow)), torch.full((n,), float(oh))).to(ctx.dtype),
        "input_size": torch.tensor(in_hw, dtype=torch.long).expand(n, -1),
        "output_size": torch.tensor(out_hw, dtype=torch.long).expand(n, -1),
    }


# --------------------------------------------------------------------------- handlers


class _GateOnly(Handler):
    """Flips, grayscale, equalize, invert and the deterministic transforms: the gate is all that is random.

    Their own ``generate_parameters`` draws nothing (checked by the tests: the
    global RNG is untouched), so it gives the rest of their params.
    """

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        return dict(module.generate_parameters(torch.Size(ctx.shape)))


class _Affine(Handler):
    def fields(self, module: Any) -> dict[str, Spec]:
        g = module._param_generator
        out: dict[str, Spec] = {"degrees": _uniform(_bound(g.degrees, 0.0))}
        if g.translate is not None:
            tx, ty = _seq(g.translate)
            out["translate_x"] = _uniform((-tx, tx))
            out["translate_y"] = _uniform((-ty, ty))
        if g.scale is not None:
            s = _seq(g.scale)
            out["scale"] = _uniform((s[0], s[1]))
            if len(s) == 4:
                out["scale_y"] = _uniform((s[2], s[3]))
        if g.shear is not None:
            sx, sy = _shear(g.shear)
            out["shear_x"] = _uniform(sx)
            if sy is not None:
                out["shear_y"] = _uniform(sy)
        return out

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        n, (_, _, h, w) = ctx.n, ctx.shape
        zeros, ones = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
        v = ctx.values
        sx = ctx.f("scale") if "scale" in v else ones
        sy = ctx.f("scale_y") if "scale_y" in v else sx
        tx = ctx.f("translate_x") * w if "translate_x" in v else zeros
        ty = ctx.f("translate_y") * h if "translate_y" in v else zeros
        center = torch.tensor([w / 2.0 - 0.5, h / 2.0 - 0.5], dtype=torch.float64).expand(n, -1)
        return {
            "translations": torch.stack([tx, ty], -1).to(ctx.dtype),
            "center": center.to(ctx.dtype),
            "scale": torch.stack([sx, sy], -1).to(ctx.dtype),
            "angle": ctx.f("degrees").to(ctx.dtype),
            "shear_x": (ctx.f("shear_x") if "shear_x" in v else zeros).to(ctx.dtype),
            "shear_y": (ctx.f("shear_y") if "shear_y" in v else zeros).to(ctx.dtype),
        }


def _shear(shear: Any) -> tuple[tuple[float, float], tuple[float, float] | None]:
    """kornia's ``_shear_bound``: x range, and the y range when one is given."""
    t = torch.as_tensor(shear, dtype=torch.float64) if not isinstance(shear, torch.Tensor) else shear
    if t.shape == (2, 2):
        return _bound(t[0], 0.0), _bound(t[1], 0.0)
    if t.dim() == 0:
        return _bound(t, 0.0), None
    if t.numel() == 2:
        return _bound(t, 0.0), None
    return _bound(t[:2], 0.0), _bound(t[2:], 0.0)


class _PlainUniform(Handler):
    """Transforms drawn by ``PlainUniformGenerator``: one uniform per named factor (RandomRotation's degrees...)."""

    def fields(self, module: Any) -> dict[str, Spec]:
        out: dict[str, Spec] = {}
        for factor, name, center, bounds in module._param_generator.samplers:
            if center is None:
                out[name] = _uniform(_bound(factor, 0.0))  # already a (low, high) tensor
            else:
                out[name] = _uniform(_bound(factor, float(center), float(bounds[0])))
        return out

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        return {name: ctx.f(name).to(ctx.dtype) for _, name, _, _ in module._param_generator.samplers}


class _ResizedCrop(Handler):
    """kornia's RandomResizedCrop: area uniform in ``scale``, width/height log-uniform in ``ratio``, in pixels.

    kornia redraws a box that does not fit (up to 10 times); dpa, which has a
    fixed set of draws per sample, narrows the ratio to the widest that fits
    the drawn area, so every draw gives a valid box.
    """

    def fields(self, module: Any) -> dict[str, Spec]:
        g = module._param_generator
        scale, ratio = _seq(g.scale), _seq(g.ratio)
        return {
            "area": _uniform((scale[0], scale[1])),
            "ratio": LogUniformSpec(low=ratio[0], high=ratio[1]),
            "x": UniformSpec(low=0.0, high=1.0),
            "y": UniformSpec(low=0.0, high=1.0),
        }

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        _, _, hh, ww = ctx.shape
        area = ctx.f("area") * (hh * ww)
        # The widest ratio range whose box fits: w = sqrt(a r) <= W, h = sqrt(a / r) <= H.
        r = ctx.f("ratio").clamp(min=area / hh**2).minimum(ww**2 / area)
        w = torch.sqrt(area * r).round().clamp(1, ww)
        h = torch.sqrt(area / r).round().clamp(1, hh)
        x0, y0 = _start(ctx.f("x"), ww - w + 1), _start(ctx.f("y"), hh - h + 1)
        return _crop_params(x0, y0, w, h, (hh, ww), tuple(module.flags["size"]), ctx)


class _Crop(Handler):
    """kornia's RandomCrop: the crop's top-left corner uniform over the (padded) canvas."""

    def fields(self, module: Any) -> dict[str, Spec]:
        return {"x": UniformSpec(low=0.0, high=1.0), "y": UniformSpec(low=0.0, high=1.0)}

    def input_shape(self, module: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
        pad = module.compute_padding(tuple(shape))
        return (shape[0], shape[1], shape[2] + pad[2] + pad[3], shape[3] + pad[0] + pad[1])

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        n, c, hh, ww = ctx.shape
        _, _, ph, pw = self.input_shape(module, ctx.shape)
        oh, ow = (int(s) for s in module.flags["size"])
        x0, y0 = _start(ctx.f("x"), max(pw - ow + 1, 0)), _start(ctx.f("y"), max(ph - oh + 1, 0))
        out = _crop_params(x0, y0, torch.full((n,), float(ow)), torch.full((n,), float(oh)), (ph, pw), (oh, ow), ctx)
        out["padding_size"] = torch.tensor(module.compute_padding((n, c, hh, ww)), dtype=torch.long).expand(n, -1)
        return out


_FACTORS = ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor")
_NEUTRAL = (1.0, 1.0, 1.0, 0.0)


class _Color(Handler):
    """ColorJitter / ColorJiggle: four uniform factors, and the order of the ops that are not the identity.

    kornia draws one order per batch; dpa draws one per sample and runs each
    group of samples sharing an order together (see :meth:`prepare`).
    """

    def _ranges(self, module: Any) -> list[tuple[float, float]]:
        return [
            _bound(module.brightness, 1.0, 0.0),
            _bound(module.contrast, 1.0, 0.0),
            _bound(module.saturation, 1.0, 0.0),
            _bound(module.hue, 0.0, -0.5),
        ]

    def _active(self, module: Any) -> list[int]:
        """Ops whose range is not just their identity: only their relative order changes an image."""
        return [i for i, (lo, hi) in enumerate(self._ranges(module)) if not lo == hi == _NEUTRAL[i]]

    def fields(self, module: Any) -> dict[str, Spec]:
        names = ("brightness", "contrast", "saturation", "hue")
        out: dict[str, Spec] = {n: _uniform(r) for n, r in zip(names, self._ranges(module))}
        if module._fixed_order is None and len(self._active(module)) >= 2:
            out["order"] = PermutationSpec(n=len(self._active(module)))
        return out

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        out = {
            key: ctx.f(name).to(ctx.dtype)
            for key, name in zip(_FACTORS, ("brightness", "contrast", "saturation", "hue"))
        }
        active = self._active(module)
        if "order_0" in ctx.values:
            k = len(active)
            perm = torch.stack([ctx.values[f"order_{i}"] for i in range(k)], dim=1)  # (B, k) indices into active
            idle = [i for i in range(4) if i not in active]
            order = torch.tensor(active, dtype=torch.long)[perm]
            out["order"] = torch.cat([order, torch.tensor(idle, dtype=torch.long).expand(ctx.n, -1)], dim=1)
        else:
            out["order"] = torch.tensor(active + [i for i in range(4) if i not in active], dtype=torch.long)
        return out

    def prepare(self, module: Any) -> None:
        if module._fixed_order is None:
            # An instance attribute shadows the class's method on dpa's copy only.
            module.apply_transform = functools.partial(_grouped_by_order, type(module).apply_transform, module)


def _grouped_by_order(apply: Callable[..., torch.Tensor], module: Any, input: torch.Tensor, params: dict, flags: dict,
                      transform: Any = None) -> torch.Tensor:
    """Run kornia's colour jitter once per distinct order in the batch (a per-sample ``(B, 4)`` order)."""
    order = params["order"]
    if order.dim() == 1:
        return apply(module, input, params, flags, transform)
    out = torch.empty_like(input)
    rows_of: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(order.tolist()):
        rows_of.setdefault(tuple(row), []).append(i)
    for row, rows in rows_of.items():
        idx = torch.tensor(rows, dtype=torch.long)
        sub = dict(params)
        for key in _FACTORS:
            sub[key] = params[key][idx]
        sub["order"] = torch.tensor(row, dtype=torch.long)
        dev_idx = idx.to(input.device)
        out[dev_idx] = apply(module, input[dev_idx], sub, flags, None if transform is None else transform[dev_idx])
    return out


class _Blur(Handler):
    def fields(self, module: Any) -> dict[str, Spec]:
        return {"sigma": _uniform(tuple(_seq(module._param_generator.sigma)))}  # type: ignore[arg-type]

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        return {"sigma": ctx.f("sigma").to(ctx.dtype)}


class _Noise(Handler):
    """RandomGaussianNoise: ``mean + std * z``, ``z`` dpa's noise field of the sample (only where applied)."""

    noisy = True

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        from dpa.apply import noise_field

        g = module._param_generator
        noise = torch.zeros(ctx.shape, dtype=ctx.dtype, device=ctx.device)
        rows = torch.nonzero(ctx.values["apply"]).flatten()
        if rows.numel():
            shape = (rows.numel(),) + tuple(ctx.shape[1:])
            z = noise_field(shape, ctx.sample_ids[rows.numpy()], seed=ctx.noise_seed, epoch=ctx.epoch, device=ctx.device)
            noise[rows.to(ctx.device)] = (float(g.mean) + float(g.std) * z).to(ctx.dtype)
        return {"gaussian_noise": noise}


class _Erasing(Handler):
    """RandomErasing: area uniform in ``scale``; height/width ratio drawn as kornia does; position uniform.

    When ``ratio`` straddles 1, kornia picks ``[ratio[0], 1]`` or ``[1, ratio[1]]``
    with a fair coin, then a uniform ratio in it: dpa draws the same way
    (``ratio_below_one``, ``ratio_low``, ``ratio_high``).
    """

    def fields(self, module: Any) -> dict[str, Spec]:
        g = module._param_generator
        scale, ratio = _seq(g.scale), _seq(g.ratio)
        out: dict[str, Spec] = {"area": _uniform((scale[0], scale[1]))}
        if ratio[0] < 1.0 < ratio[1]:
            out["ratio_below_one"] = BernoulliSpec(p=0.5)
            out["ratio_low"] = _uniform((ratio[0], 1.0))
            out["ratio_high"] = _uniform((1.0, ratio[1]))
        else:
            out["ratio"] = _uniform((ratio[0], ratio[1]))
        out["x"] = UniformSpec(low=0.0, high=1.0)
        out["y"] = UniformSpec(low=0.0, high=1.0)
        return out

    def params(self, module: Any, ctx: Ctx) -> dict[str, torch.Tensor]:
        _, _, hh, ww = ctx.shape
        v = ctx.values
        if "ratio" in v:
            ratio = ctx.f("ratio")
        else:
            ratio = torch.where(v["ratio_below_one"], ctx.f("ratio_low"), ctx.f("ratio_high"))
        area = ctx.f("area") * (hh * ww)
        h = torch.sqrt(area * ratio).round().clamp(1, hh)
        w = torch.sqrt(area / ratio).round().clamp(1, ww)
        xs, ys = _start(ctx.f("x"), ww - w + 1), _start(ctx.f("y"), hh - h + 1)
        value = float(module._param_generator.value)
        return {
            "widths": w.to(ctx.dtype),
            "heights": h.to(ctx.dtype),
            "xs": xs.to(ctx.dtype),
            "ys": ys.to(ctx.dtype),
            "values": torch.full((ctx.n,), value, dtype=ctx.dtype),
        }


_HANDLERS: dict[str, Handler] = {
    "RandomHorizontalFlip": _GateOnly(),
    "RandomVerticalFlip": _GateOnly(),
    "RandomGrayscale": _GateOnly(),
    "RandomEqualize": _GateOnly(),
    "RandomInvert": _GateOnly(),
    **{name: _GateOnly() for name in DETERMINISTIC},
    "RandomAffine": _Affine(),
    "RandomRotation": _PlainUniform(),
    "RandomSharpness": _PlainUniform(),
    "RandomSolarize": _PlainUniform(),
    "RandomBrightness": _PlainUniform(),
    "RandomContrast": _PlainUniform(),
    "RandomSaturation": _PlainUniform(),
    "RandomHue": _PlainUniform(),
    "RandomGamma": _PlainUniform(),
    "RandomResizedCrop": _ResizedCrop(),
    "RandomCrop": _Crop(),
    "ColorJitter": _Color(),
    "ColorJiggle": _Color(),
    "RandomGaussianBlur": _Blur(),
    "RandomGaussianNoise": _Noise(),
    "RandomErasing": _Erasing(),
}


def _classes() -> dict[type, Handler]:
    import kornia.augmentation as K

    return {getattr(K, name): handler for name, handler in _HANDLERS.items()}


TABLE = HandlerTable("kornia", _HANDLERS, DETERMINISTIC, _classes)
