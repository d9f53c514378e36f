"""Size-free draws to pixels: pure functions of (draws, image size), no torch RNG, no torchvision.

dpa draws fractions that do not know the image (an area fraction, an aspect
ratio, a position in [0, 1)); these functions turn them into the integer
boxes and corner offsets torchvision's ``transform`` expects, the same way for
every image of a given size.
"""

from __future__ import annotations

import math

__all__ = ["fit_box", "offset", "perspective_coefficients", "perspective_endpoints"]


def offset(u: float, room: int) -> int:
    """A uniform integer in ``[0, room]`` from ``u`` in ``[0, 1)``: ``floor(u * (room + 1))``.

    >>> offset(0.0, 4), offset(0.999, 4), offset(0.5, 0)
    (0, 4, 0)
    """
    return min(int(math.floor(u * (room + 1))), room) if room > 0 else 0


def fit_box(area: float, ratio: float, limit_a: int, limit_b: int) -> tuple[int, int] | None:
    """Integer sides ``(a, b)`` of a box of ``area`` pixels with ``a / b == ratio``, limited to what fits.

    ``a = round(sqrt(area * ratio))`` and ``b = round(sqrt(area / ratio))`` as
    torchvision computes them, except that where torchvision draws again
    (rejection) when the box does not fit, dpa moves the ratio to the nearest
    one that fits: the real side ``sqrt(area * ratio)`` is limited to
    ``[area / limit_b, limit_a]``, so that ``a <= limit_a`` and ``b <= limit_b``.
    The area is always the drawn one.

    Args:
        area: the box's area in pixels (> 0).
        ratio: the drawn ratio ``a / b`` (> 0).
        limit_a, limit_b: the largest ``a`` and ``b`` allowed.

    Returns:
        ``(a, b)``, each at least 1, or None when no box of that area fits
        (``area > limit_a * limit_b``).

    >>> fit_box(50.0, 2.0, 10, 10)
    (10, 5)
    >>> fit_box(50.0, 100.0, 10, 10)  # too wide: the ratio becomes 2
    (10, 5)
    >>> fit_box(101.0, 1.0, 10, 10) is None
    True
    """
    if limit_a < 1 or limit_b < 1 or area > limit_a * limit_b:
        return None
    side = min(max(math.sqrt(area * ratio), area / limit_b), float(limit_a))
    a = min(max(int(round(side)), 1), limit_a)
    b = min(max(int(round(area / side)), 1), limit_b)
    return a, b


def perspective_endpoints(fractions: list[float], distortion: float, height: int, width: int) -> list[list[int]]:
    """The four moved corners of RandomPerspective from eight inward fractions in ``[0, distortion)``.

    Corner offsets are uniform integers on torchvision's range ``[0, int(distortion * half))``
    + 1 values: fraction ``f`` gives ``floor(f / distortion * (int(distortion * half) + 1))``.
    Order: top-left (x, y), top-right, bottom-right, bottom-left, offsets measured inwards.

    >>> perspective_endpoints([0.0] * 8, 0.5, 10, 20)
    [[0, 0], [19, 0], [19, 9], [0, 9]]
    """
    bound_h = int(distortion * (height // 2)) + 1
    bound_w = int(distortion * (width // 2)) + 1

    def k(f: float, bound: int) -> int:
        return offset(f / distortion, bound - 1) if distortion > 0 else 0

    f = fractions
    return [
        [k(f[0], bound_w), k(f[1], bound_h)],
        [width - 1 - k(f[2], bound_w), k(f[3], bound_h)],
        [width - 1 - k(f[4], bound_w), height - 1 - k(f[5], bound_h)],
        [k(f[6], bound_w), height - 1 - k(f[7], bound_h)],
    ]


def perspective_coefficients(startpoints: list[list[int]], endpoints: list[list[int]]) -> list[float]:
    """The 8 coefficients torchvision's ``perspective`` takes, mapping output pixels to input pixels.

    Solved as torchvision solves them (least squares in float64, then float32),
    so ``transform(x, {"coefficients": ...})`` equals
    ``F.perspective(x, startpoints, endpoints)``.
    """
    import torch

    a = torch.zeros(2 * len(startpoints), 8, dtype=torch.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i, :] = torch.tensor([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]], dtype=torch.float64)
        a[2 * i + 1, :] = torch.tensor([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]], dtype=torch.float64)
    b = torch.tensor(startpoints, dtype=torch.float64).view(8)
    return torch.linalg.lstsq(a, b, driver="gels").solution.to(torch.float32).tolist()
