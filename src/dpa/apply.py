"""Reference implementations that apply dpa's parameters to image tensors (pure torch, CPU or CUDA).

Images are ``(C, H, W)`` or ``(B, C, H, W)``, float (values in [0, 1]) or
uint8 (0..255, computed in float and rounded back). Parameters are per
sample: Python numbers for one image, 1-D tensors (or anything
``torch.as_tensor`` takes) of length B for a batch, as ``dpa.gen_augmentation_batch``
or a DataLoader's collated params give them. Every op returns its input
unchanged, bit for bit, for a sample whose parameter is the identity.

:func:`apply_params` applies a preset's parameters in this order:

1. resized crop (``crop_x, crop_y, crop_w, crop_h``), resized back to the input size
2. flips (``hflip``, ``vflip``)
3. affine (``rotation``, ``scale``, ``translate_x``, ``translate_y``, ``shear``)
4. colour jitter (``brightness``, ``contrast``, ``saturation``, ``hue``), in the
   order ``color_order_0..3`` gives (indices into that list), else as listed
5. Gaussian blur (``blur_sigma``)
6. Gaussian noise (``noise_std``), its field made by dpa's counter hash from the
   sample ids, so it is reproducible on any device
7. random erasing (``erasing_x, _y, _w, _h``), filled with 0

Parameters absent from ``params`` are skipped.

**Batch invariance.** An image's result never depends on the other images of
its batch: the same bits alone, in any batch, in any position. Every op is
per image (its own parameters, its own blur radius ``ceil(3 sigma)``, its own
noise field from its sample id), and the few places where torch's kernels
could round differently with the batch shape are written so they cannot:
sampling grids are built elementwise (not by ``affine_grid``'s batched matrix
product), the blur sums its taps in a fixed order (not a batched
convolution), and the contrast mean is accumulated in float64 (torch splits a
lone image's sum across threads but not a batch's). The tests compare batched
and one-at-a-time results for every preset, float and uint8.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dpa import noise, validate
from dpa.ids import as_torch_ids
from dpa.keys import check_epoch, check_seed, stream_key

__all__ = [
    "apply_params",
    "hflip",
    "vflip",
    "affine",
    "resized_crop",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "gaussian_blur",
    "gaussian_noise",
    "erase",
    "noise_field",
    "COLOR_OPS",
]

COLOR_OPS = ("brightness", "contrast", "saturation", "hue")


# --------------------------------------------------------------------------- plumbing


class _Batch:
    """Normalises an image argument to float (B, C, H, W) and restores the caller's form."""

    def __init__(self, images: Any, name: str = "images") -> None:
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (C, H, W) or (B, C, H, W); got {type(images).__name__}")
        if images.ndim not in (3, 4):
            raise ValueError(f"{name} must have shape (C, H, W) or (B, C, H, W); got {tuple(images.shape)}")
        if images.dtype != torch.uint8 and not images.dtype.is_floating_point:
            raise TypeError(f"{name} must be uint8 or floating point; got {images.dtype}")
        self.single = images.ndim == 3
        self.dtype = images.dtype
        x = images.unsqueeze(0) if self.single else images
        self.original = x
        self.x = x.float() / 255.0 if self.dtype == torch.uint8 else x

    @property
    def n(self) -> int:
        return self.x.shape[0]

    def param(self, value: Any, name: str) -> torch.Tensor:
        """A parameter as a float tensor of shape (B,) on the images' device."""
        # Python numbers (a lone image's params) are doubles: read them as float64, as a batch's
        # tensors hold them, not through torch's float32 default dtype (1e-6 apart on float64 images).
        plain = not isinstance(value, (torch.Tensor, np.ndarray, np.generic))
        t = torch.as_tensor(value, device=self.x.device, dtype=torch.float64 if plain else None)
        if t.ndim == 0:
            t = t.expand(self.n)
        if t.ndim != 1 or t.shape[0] != self.n:
            raise ValueError(f"parameter {name!r} must be a number or have one value per image ({self.n}); got shape {tuple(t.shape)}")
        return t.to(self.x.dtype if self.x.dtype.is_floating_point else torch.float32)

    def finish(self, y: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
        """Back to the input's dtype and rank; samples not ``changed`` are the input, bit for bit."""
        if self.dtype == torch.uint8:
            y = (y * 255.0).round().clamp(0, 255).to(torch.uint8)
        else:
            y = y.to(self.dtype)
        y = torch.where(changed.view(-1, 1, 1, 1), y, self.original)
        return y[0] if self.single else y


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = factor.view(-1, 1, 1, 1)
    return (f * a + (1.0 - f) * b).clamp(0.0, 1.0)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"colour operations need 1 or 3 channels; got {x.shape[1]}")
    return (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, bl = x.unbind(1)
    maxc, _ = x.max(dim=1)
    minc, _ = x.min(dim=1)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - bl) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc], dim=1)


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(x)
    for k, (rr, gg, bb) in enumerate(choices):
        m = (i == k).unsqueeze(1)
        out = torch.where(m, torch.stack([rr, gg, bb], dim=1), out)
    return out


def noise_field(
    shape: Sequence[int],
    sample_ids: Any,
    seed: int = 0,
    epoch: int = 0,
    device: Any = None,
    name: str = "noise_field",
    *,
    executor: str | None = None,
) -> torch.Tensor:
    """Standard normal noise of ``shape`` = (B, ...) from dpa's counter hash, one field per sample id.

    Element ``k`` (row-major over all but the first dimension) of sample ``i``'s
    field is ``ndtri((d + 0.5) * 2**-32)`` for draw ``d`` number ``k`` of the
    stream ``name`` in ``epoch`` (docs/SPEC.md section 9), so a sample's field
    is the same on any device and in any batch.

    Args:
        shape: ``(B, ...)``, usually ``(B, C, H, W)``; at most 2**33 elements per sample.
        sample_ids: B ids (ints in [0, 2**64)).
        seed, epoch: as for parameters.
        device: where to make the field (default CPU).
        name: the stream's name; two noise sources with different names (say
            two noise transforms of one pipeline) draw independent fields. The
            default, ``"noise_field"``, is what :func:`gaussian_noise` and
            :func:`apply_params` use.
        executor: who computes (the bits are the same): None picks the fastest
            (on the CPU the C kernel where it is built, else numpy; torch
            kernels on a GPU); ``"compiled"``, ``"numpy"`` or ``"torch"``
            choose one (:func:`dpa.noise.stream_normals`).

    Returns:
        A float64 tensor of ``shape`` on ``device``.

    Raises:
        ValueError: a field too large, ids not one per sample, a shape without
            a batch dimension, a negative dimension, a device without data
            (such as "meta"), an invalid seed, epoch, name or executor, or
            ``executor="compiled"`` without the C kernel.
        TypeError: a shape that is not a sequence, a dimension that is not an
            integer, a seed or epoch that is not an integer.

    >>> noise_field((2, 1, 2, 2), [7, 8], seed=1)[1].equal(noise_field((1, 1, 2, 2), [8], seed=1)[0])
    True
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string; got {name!r}")
    try:
        items = list(shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints (B, ...); got {shape!r} of type {type(shape).__name__}") from None
    dims = [validate.integer(d, f"shape[{k}]", 0) for k, d in enumerate(items)]
    if not dims:
        raise ValueError(f"shape must be (B, ...) with a batch dimension; got {tuple(items)}")
    per = int(math.prod(dims[1:]))
    if per > noise.MAX_COUNT:
        raise ValueError(f"a noise field has at most 2**33 elements per sample; got {per}")
    if executor is not None and executor not in noise.EXECUTORS:
        raise ValueError(f"executor must be None or one of {list(noise.EXECUTORS)}; got {executor!r}")
    dev = validate.torch_device(device)  # the CPU or CUDA: a "meta" tensor would hold no noise
    ids = as_torch_ids(sample_ids, dev)
    if ids.shape[0] != dims[0]:
        raise ValueError(f"sample_ids must have one id per image ({dims[0]}); got {ids.shape[0]}")
    key = stream_key(check_seed(seed), name)
    z = noise.stream_normals(ids, key, check_epoch(epoch), per, executor=executor)
    return z.to(dev).reshape(tuple(dims))


# --------------------------------------------------------------------------- float kernels
# Each takes float (B, C, H, W) in [0, 1] and per-image (B,) parameters and
# returns a new tensor; the public wrappers below validate and restore the
# caller's dtype and rank, and apply_params runs them on subsets of a batch.


def _sample(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling through per-image (B, 2, 3) ``theta``, as ``F.affine_grid`` (align_corners=False).

    The grid is built elementwise rather than by ``affine_grid``'s batched
    matrix product, whose kernel (and so its rounding) may depend on the batch
    size; ``grid_sample`` computes each output pixel on its own.
    """
    n, _, h, w = x.shape
    t = theta.to(x.dtype)
    xs = ((torch.arange(w, device=x.device, dtype=x.dtype) * 2.0 + 1.0) / w - 1.0).view(1, 1, -1)
    ys = ((torch.arange(h, device=x.device, dtype=x.dtype) * 2.0 + 1.0) / h - 1.0).view(1, -1, 1)

    def row(i: int) -> torch.Tensor:
        return t[:, i, 0].view(-1, 1, 1) * xs + t[:, i, 1].view(-1, 1, 1) * ys + t[:, i, 2].view(-1, 1, 1)

    grid = torch.stack([row(0), row(1)], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _affine_f(x: torch.Tensor, rot_deg, sc, tx, ty, sh_deg) -> torch.Tensor:
    h, w = x.shape[-2:]
    rot, sh = rot_deg * (math.pi / 180.0), sh_deg * (math.pi / 180.0)
    cos, sin, tan = torch.cos(rot), torch.sin(rot), torch.tan(sh)
    # Forward map about the centre in pixel units with y pointing down, so a
    # counter-clockwise turn on screen is R = [[cos, sin], [-sin, cos]];
    # A = scale * R @ [[1, tan(shear)], [0, 1]].
    a11, a12 = cos * sc, (cos * tan + sin) * sc
    a21, a22 = -sin * sc, (cos - sin * tan) * sc
    det = a11 * a22 - a12 * a21
    i11, i12, i21, i22 = a22 / det, -a12 / det, -a21 / det, a11 / det
    # affine_grid maps output to input in normalised coordinates (pixel / half-size):
    # input = D^-1 A^-1 D out - D^-1 A^-1 t, with D = diag(w / 2, h / 2), t = (tx * w, ty * h).
    ax, ay = w / 2.0, h / 2.0
    theta = torch.stack(
        [
            torch.stack([i11, i12 * ay / ax, -(2.0 * i11 * tx + 2.0 * i12 * ty * ay / ax)], dim=-1),
            torch.stack([i21 * ax / ay, i22, -(2.0 * i21 * tx * ax / ay + 2.0 * i22 * ty)], dim=-1),
        ],
        dim=1,
    )
    return _sample(x, theta)


def _crop_f(x: torch.Tensor, bx, by, bw, bh) -> torch.Tensor:
    zeros = torch.zeros_like(bw)
    theta = torch.stack(
        [torch.stack([bw, zeros, 2.0 * bx + bw - 1.0], dim=-1), torch.stack([zeros, bh, 2.0 * by + bh - 1.0], dim=-1)],
        dim=1,
    )
    return _sample(x, theta)


def _brightness_f(x: torch.Tensor, f) -> torch.Tensor:
    return _blend(x, torch.zeros_like(x), f)


def _wide(x: torch.Tensor) -> torch.dtype:
    """float64 for sums whose order must not show, where the device has it (Apple's MPS does not)."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def _contrast_f(x: torch.Tensor, f) -> torch.Tensor:
    # torch splits a lone image's sum across threads, but not a batch's: in
    # float64 the order's rounding (~1e-16) almost never reaches the float32 mean.
    mean = _gray(x).to(_wide(x)).mean(dim=(-3, -2, -1), keepdim=True).to(x.dtype)
    return _blend(x, mean.expand_as(x), f)


def _saturation_f(x: torch.Tensor, f) -> torch.Tensor:
    return _blend(x, _gray(x).expand_as(x), f)


def _hue_f(x: torch.Tensor, f) -> torch.Tensor:
    if x.shape[1] != 3:
        raise ValueError(f"adjust_hue needs RGB images (3 channels); got {x.shape[1]}")
    hsv = _rgb_to_hsv(x.clamp(0, 1))
    hsv = torch.stack([(hsv[:, 0] + f.view(-1, 1, 1)) % 1.0, hsv[:, 1], hsv[:, 2]], dim=1)
    return _hsv_to_rgb(hsv)


def _blur_radius(s: torch.Tensor, max_kernel: int) -> torch.Tensor:
    """Per-image kernel radius ``ceil(3 sigma)``, at least 1 and at most ``max_kernel // 2``."""
    return torch.clamp(torch.ceil(3.0 * s.to(_wide(s))), 1, max(max_kernel // 2, 1)).long()


def _blur_f(x: torch.Tensor, s, max_kernel: int = 31) -> torch.Tensor:
    """Each image blurred with its own radius: images are grouped by radius, never padded to the batch's largest."""
    radius = _blur_radius(s, max_kernel)
    radii = torch.unique(radius).tolist()
    if len(radii) == 1:
        return _blur_same_radius(x, s, int(radii[0]))
    out = torch.empty_like(x)
    for r in radii:
        rows = torch.nonzero(radius == r).flatten()
        out[rows] = _blur_same_radius(x[rows], s[rows], int(r))
    return out


def _blur_same_radius(x: torch.Tensor, s: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable blur of images that share ``radius``, each with its own sigma.

    Only elementwise operations, each output summed over the taps in one fixed
    order, so an image's result is the same bits alone or in any batch (a
    batched convolution may change its summation order with the batch size).
    """
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=_wide(x))
    k = torch.exp(-0.5 * (taps.view(1, -1) / s.to(taps.dtype).view(-1, 1)) ** 2)  # (B, K), float64 where there is one
    total = k[:, 0]
    for j in range(1, k.shape[1]):  # an explicit order: a reduction's may depend on the shape
        total = total + k[:, j]
    k = (k / total.view(-1, 1)).to(x.dtype)
    hh, ww = x.shape[-2:]
    y = _taps(F.pad(x, (radius, radius, 0, 0), mode="reflect" if ww > radius else "replicate"), k, -1, ww)
    return _taps(F.pad(y, (0, 0, radius, radius), mode="reflect" if hh > radius else "replicate"), k, -2, hh)


def _taps(padded: torch.Tensor, k: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """``sum_j k[:, j] * padded.narrow(dim, j, size)``, accumulated in tap order."""
    acc = k[:, 0].view(-1, 1, 1, 1) * padded.narrow(dim, 0, size)
    term = torch.empty_like(acc)
    for j in range(1, k.shape[1]):
        acc.add_(torch.mul(k[:, j].view(-1, 1, 1, 1), padded.narrow(dim, j, size), out=term))
    return acc


def _erase_f(x: torch.Tensor, bx, by, bw, bh, value: float = 0.0) -> torch.Tensor:
    hh, ww = x.shape[-2:]
    cols = (torch.arange(ww, device=x.device, dtype=bx.dtype) + 0.5) / ww
    rows = (torch.arange(hh, device=x.device, dtype=bx.dtype) + 0.5) / hh
    in_x = (cols.view(1, -1) >= bx.view(-1, 1)) & (cols.view(1, -1) < (bx + bw).view(-1, 1))
    in_y = (rows.view(1, -1) >= by.view(-1, 1)) & (rows.view(1, -1) < (by + bh).view(-1, 1))
    mask = (in_y.unsqueeze(-1) & in_x.unsqueeze(-2)).unsqueeze(1)
    return x.masked_fill(mask, value)


def _noise_f(x: torch.Tensor, std, ids: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    z = noise_field(tuple(x.shape), ids, seed, epoch, x.device).to(x.dtype)
    return (x + std.view(-1, 1, 1, 1) * z).clamp(0.0, 1.0)


def _check_crop(bx, by, bw, bh) -> None:
    if bool(((bw <= 0) | (bh <= 0) | (bx < 0) | (by < 0) | (bx + bw > 1 + 1e-6) | (by + bh > 1 + 1e-6)).any()):
        raise ValueError("crop box must lie inside the image with positive width and height (fractions in [0, 1])")


def _check_range(name: str, t: torch.Tensor, low: float, high: float | None = None) -> None:
    bad = (t < low) | (t > high) if high is not None else (t < low)
    if bool(bad.any()):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"parameter {name!r} must be {rng}; got {float(t[bad][0])}")


def _ids(sample_ids: Any, n: int) -> torch.Tensor:
    if isinstance(sample_ids, int):
        sample_ids = [sample_ids]
    ids = as_torch_ids(sample_ids, torch.device("cpu"))
    if ids.shape[0] != n:
        raise ValueError(f"sample_ids must have one id per image ({n}); got {ids.shape[0]}")
    return ids


# --------------------------------------------------------------------------- public single ops


def hflip(images: torch.Tensor, flag: Any) -> torch.Tensor:
    """Mirror left-right the images whose ``flag`` is true."""
    b = _Batch(images)
    return b.finish(b.x.flip(-1), b.param(flag, "hflip") != 0)


def vflip(images: torch.Tensor, flag: Any) -> torch.Tensor:
    """Mirror top-bottom the images whose ``flag`` is true."""
    b = _Batch(images)
    return b.finish(b.x.flip(-2), b.param(flag, "vflip") != 0)


def affine(
    images: torch.Tensor, rotation: Any = 0.0, scale: Any = 1.0, translate_x: Any = 0.0, translate_y: Any = 0.0, shear: Any = 0.0
) -> torch.Tensor:
    """Rotate (degrees, counter-clockwise), scale, translate (fractions of width/height), shear (degrees, along x).

    About the image centre; bilinear, zeros outside.
    """
    b = _Batch(images)
    p = [b.param(v, n) for v, n in ((rotation, "rotation"), (scale, "scale"), (translate_x, "translate_x"),
                                     (translate_y, "translate_y"), (shear, "shear"))]
    _check_range("scale", p[1], 1e-6)
    changed = (p[0] != 0) | (p[1] != 1) | (p[2] != 0) | (p[3] != 0) | (p[4] != 0)
    return b.finish(_affine_f(b.x, *p), changed)


def resized_crop(images: torch.Tensor, x: Any, y: Any, w: Any, h: Any) -> torch.Tensor:
    """Crop the box ``(x, y, w, h)`` (fractions of width and height) and resize it to the input size (bilinear)."""
    b = _Batch(images)
    box = [b.param(v, n) for v, n in ((x, "crop_x"), (y, "crop_y"), (w, "crop_w"), (h, "crop_h"))]
    _check_crop(*box)
    changed = (box[0] != 0) | (box[1] != 0) | (box[2] != 1) | (box[3] != 1)
    return b.finish(_crop_f(b.x, *box), changed)


def _factor_op(
    images: torch.Tensor, factor: Any, name: str, kernel: Any, neutral: float, bounds: tuple[float, float] | None = None
) -> torch.Tensor:
    b = _Batch(images)
    f = b.param(factor, name)
    if bounds is not None:
        _check_range(name, f, *bounds)
    return b.finish(kernel(b.x, f), f != neutral)


def adjust_brightness(images: torch.Tensor, factor: Any) -> torch.Tensor:
    """``clamp(factor * x, 0, 1)`` (torchvision's definition)."""
    return _factor_op(images, factor, "brightness", _brightness_f, 1.0)


def adjust_contrast(images: torch.Tensor, factor: Any) -> torch.Tensor:
    """Blend with each image's mean grey level: ``clamp(f * x + (1 - f) * mean(gray(x)), 0, 1)``."""
    return _factor_op(images, factor, "contrast", _contrast_f, 1.0)


def adjust_saturation(images: torch.Tensor, factor: Any) -> torch.Tensor:
    """Blend with the grey image: ``clamp(f * x + (1 - f) * gray(x), 0, 1)``."""
    return _factor_op(images, factor, "saturation", _saturation_f, 1.0)


def adjust_hue(images: torch.Tensor, factor: Any) -> torch.Tensor:
    """Rotate the hue by ``factor`` turns of the colour circle (``factor`` in [-0.5, 0.5]); RGB images."""
    return _factor_op(images, factor, "hue", _hue_f, 0.0, bounds=(-0.5, 0.5))


def gaussian_blur(images: torch.Tensor, sigma: Any, max_kernel: int = 31) -> torch.Tensor:
    """Separable Gaussian blur, per-image ``sigma`` in pixels; kernel ``2 * ceil(3 sigma) + 1`` up to ``max_kernel``.

    Each image gets its own kernel size from its own sigma (never the batch's
    largest), so a batch gives the same bits as one image at a time. Borders
    are reflected; ``sigma == 0`` leaves an image unchanged.
    """
    b = _Batch(images)
    s = b.param(sigma, "blur_sigma")
    _check_range("blur_sigma", s, 0.0)
    return b.finish(_on(b.x, s > 0, lambda x, r: _blur_f(x, s[r], max_kernel)), s > 0)


def gaussian_noise(images: torch.Tensor, std: Any, sample_ids: Any, seed: int = 0, epoch: int = 0) -> torch.Tensor:
    """Add ``std * noise_field(...)``, clamped to [0, 1]; ``std == 0`` leaves an image unchanged."""
    b = _Batch(images)
    s = b.param(std, "noise_std")
    _check_range("noise_std", s, 0.0)
    ids = _ids(sample_ids, b.n)
    return b.finish(_on(b.x, s > 0, lambda x, r: _noise_f(x, s[r], ids[r.cpu()], seed, epoch)), s > 0)


def erase(images: torch.Tensor, x: Any, y: Any, w: Any, h: Any, value: float = 0.0) -> torch.Tensor:
    """Fill the box ``(x, y, w, h)`` (fractions) with ``value``; an empty box (w or h 0) changes nothing."""
    b = _Batch(images)
    box = [b.param(v, n) for v, n in ((x, "erasing_x"), (y, "erasing_y"), (w, "erasing_w"), (h, "erasing_h"))]
    return b.finish(_erase_f(b.x, *box, value=value), (box[2] > 0) & (box[3] > 0))


def _on(x: torch.Tensor, mask: torch.Tensor, fn: Any) -> torch.Tensor:
    """``x`` with ``fn(x[rows], rows)`` written into the rows where ``mask`` holds (the others untouched)."""
    rows = torch.nonzero(mask).flatten()
    if rows.numel() == 0:
        return x
    out = x.clone()
    out[rows] = fn(x[rows], rows).to(x.dtype)
    return out


# --------------------------------------------------------------------------- all together


def apply_params(
    images: torch.Tensor, params: Mapping[str, Any], sample_ids: Any = None, seed: int = 0, epoch: int = 0
) -> torch.Tensor:
    """Apply a preset's parameters to images in the documented order (see the module docstring).

    The images are converted to float once; each op runs only on the images
    whose parameter is not its identity, so an image whose parameters are
    all identities comes back bit for bit.

    Args:
        images: ``(C, H, W)`` or ``(B, C, H, W)``, float in [0, 1] or uint8.
        params: ``{output name: value}`` for one image, or ``{name: (B,) values}``.
        sample_ids: the images' ids, needed when ``noise_std`` is applied.
        seed, epoch: of the noise field (use the params' own).

    Returns:
        The augmented images, in the input's dtype and shape.

    Raises:
        TypeError: ``params`` not a mapping, images not a float or uint8 tensor.
        ValueError: params missing a key an op needs (``crop_x`` without
            ``crop_w``, ``noise_std`` without ``sample_ids``), a batch length
            mismatch, or out-of-range values.

    >>> x = torch.zeros(2, 3, 8, 8)
    >>> apply_params(x, {"hflip": [True, False], "brightness": [1.0, 0.5]}).shape
    torch.Size([2, 3, 8, 8])
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of output name -> value(s); got {type(params).__name__}")
    run = _Pipeline(images, params)
    run.crop()
    run.flips()
    run.affine()
    run.colour()
    run.blur()
    run.noise(sample_ids, seed, epoch)
    run.erase()
    return run.finish()


class _Pipeline:
    """apply_params's state: the working float batch, which images changed, and one method per step."""

    def __init__(self, images: torch.Tensor, params: Mapping[str, Any]) -> None:
        self.b = _Batch(images)
        self.params = params
        self.x = self.b.x.clone() if self.b.x is self.b.original else self.b.x  # our own copy, updated in place
        self.changed = torch.zeros(self.b.n, dtype=torch.bool, device=self.x.device)

    def have(self, *names: str) -> bool:
        """True when all of ``names`` are in params, False when none is; a part of them raises."""
        present = [n in self.params for n in names]
        if any(present) and not all(present):
            raise ValueError(f"params have {[n for n, p in zip(names, present) if p]} "
                             f"but miss {[n for n, p in zip(names, present) if not p]}")
        return all(present)

    def p(self, name: str, default: float | None = None) -> torch.Tensor:
        return self.b.param(self.params[name] if name in self.params else default, name)

    def step(self, mask: torch.Tensor, fn: Any) -> None:
        """``fn(images, rows)`` on the rows where ``mask`` holds, written back in place."""
        rows = torch.nonzero(mask).flatten()
        if rows.numel():
            self.x[rows] = fn(self.x[rows], rows).to(self.x.dtype)
            self.changed = self.changed | mask

    def crop(self) -> None:
        if self.have("crop_x", "crop_y", "crop_w", "crop_h"):
            box = [self.p(n) for n in ("crop_x", "crop_y", "crop_w", "crop_h")]
            _check_crop(*box)
            moved = (box[0] != 0) | (box[1] != 0) | (box[2] != 1) | (box[3] != 1)
            self.step(moved, lambda v, r: _crop_f(v, *(t[r] for t in box)))

    def flips(self) -> None:
        for name, dim in (("hflip", -1), ("vflip", -2)):
            if name in self.params:
                self.step(self.p(name) != 0, lambda v, r, dim=dim: v.flip(dim))

    def affine(self) -> None:
        if not any(k in self.params for k in ("rotation", "scale", "translate_x", "translate_y", "shear")):
            return
        aff = [self.p("rotation", 0.0), self.p("scale", 1.0), self.p("translate_x", 0.0), self.p("translate_y", 0.0),
               self.p("shear", 0.0)]
        _check_range("scale", aff[1], 1e-6)
        mask = (aff[0] != 0) | (aff[1] != 1) | (aff[2] != 0) | (aff[3] != 0) | (aff[4] != 0)
        self.step(mask, lambda v, r: _affine_f(v, *(t[r] for t in aff)))

    def colour(self) -> None:
        colour = {op: self.p(op) for op in COLOR_OPS if op in self.params}
        if not colour:
            return
        if "hue" in colour:
            _check_range("hue", colour["hue"], -0.5, 0.5)
        order_keys = [f"color_order_{i}" for i in range(len(COLOR_OPS))]
        if all(k in self.params for k in order_keys):
            orders = torch.stack([self.p(k).long() for k in order_keys], dim=1)
        else:
            orders = torch.arange(len(COLOR_OPS), device=self.x.device).expand(self.b.n, -1)
        for pos in range(len(COLOR_OPS)):
            for k, op in enumerate(COLOR_OPS):
                if op in colour:
                    f, neutral = colour[op], 0.0 if op == "hue" else 1.0
                    self.step((orders[:, pos] == k) & (f != neutral), lambda v, r, fn=_COLOR_FNS[op], f=f: fn(v, f[r]))

    def blur(self) -> None:
        if "blur_sigma" in self.params:
            s = self.p("blur_sigma")
            _check_range("blur_sigma", s, 0.0)
            self.step(s > 0, lambda v, r: _blur_f(v, s[r]))

    def noise(self, sample_ids: Any, seed: int, epoch: int) -> None:
        if "noise_std" not in self.params:
            return
        s = self.p("noise_std")
        _check_range("noise_std", s, 0.0)
        if bool((s > 0).any()):
            if sample_ids is None:
                raise ValueError("params have 'noise_std' but apply_params got no sample_ids for the noise field")
            ids = _ids(sample_ids, self.b.n)
            self.step(s > 0, lambda v, r: _noise_f(v, s[r], ids[r.cpu()], seed, epoch))

    def erase(self) -> None:
        if self.have("erasing_x", "erasing_y", "erasing_w", "erasing_h"):
            box = [self.p(n) for n in ("erasing_x", "erasing_y", "erasing_w", "erasing_h")]
            self.step((box[2] > 0) & (box[3] > 0), lambda v, r: _erase_f(v, *(t[r] for t in box)))

    def finish(self) -> torch.Tensor:
        return self.b.finish(self.x, self.changed)


_COLOR_FNS = {"brightness": _brightness_f, "contrast": _contrast_f, "saturation": _saturation_f, "hue": _hue_f}
