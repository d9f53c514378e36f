"""Composite specs: one parameter, several flat outputs.

* :class:`ResizedCropSpec` / :class:`ErasingSpec`: a box ``(x, y, w, h)`` as
  fractions of the image, drawn like torchvision's ``RandomResizedCrop`` and
  ``RandomErasing`` (area fraction and log-uniform aspect ratio) but without
  their open-ended rejection loop: the ratio is limited to what fits, so one
  fixed set of draws always gives a valid box.
* :class:`PermutationSpec`: an order of ``n`` operations (colour jitter's),
  one output per position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Sequence

from dpa import domains, fmath
from dpa.program import TWO_M32, Builder
from dpa.specs import Output, Spec, register_spec

__all__ = ["ResizedCropSpec", "ErasingSpec", "PermutationSpec"]


@dataclass(frozen=True)
class _BoxSpec(Spec):
    """Shared sampling of an axis-aligned box (see the module docstring).

    With draws d0..d3 and ``u_i = d_i * 2**-32``::

        s = scale[0] + d0 * ((scale[1] - scale[0]) * 2**-32)          # area fraction
        r = exp(log(ratio[0]) + d1 * ((log(ratio[1]) - log(ratio[0])) * 2**-32))
        r = min(max(r, s), 1 / s)                                    # so that w, h <= 1
        w = min(sqrt(s * r), 1);  h = min(s / w, 1)             # w * h = s
        x = u2 * (1 - w);          y = u3 * (1 - h)

    ``ratio`` is width/height relative to the image's own aspect ratio.
    ``scale[0] >= 2**-511`` and both ratios' logs in exp's domain ``[-708, 709]``
    (:func:`dpa.domains.box`) keep every step finite and normal.
    """

    n_draws: ClassVar[int] = 4
    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3.0 / 4.0, 4.0 / 3.0)

    def _validate(self) -> None:
        scale, ratio = domains.box(self.kind, self.scale, self.ratio)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "ratio", ratio)

    def _check_identity(self, identity: Any) -> Any:
        raise ValueError(f"{self.kind} has a fixed identity {self.default_identity()}; do not pass 'identity'")

    def outputs(self) -> tuple[Output, ...]:
        return tuple(
            Output(suffix, "float", ident) for suffix, ident in zip(("_x", "_y", "_w", "_h"), self.default_identity())
        )

    @cached_property
    def _consts(self) -> tuple[float, float, float, float]:
        lr0 = fmath.log(self.ratio[0])
        return (
            self.scale[0],
            (self.scale[1] - self.scale[0]) * TWO_M32,
            lr0,
            (fmath.log(self.ratio[1]) - lr0) * TWO_M32,
        )

    def program(self, b: Builder) -> Any:
        s0, ss, r0, rs = self._consts
        s = b.const(s0, "s0", "scale[0]") + b.draw(0) * b.const(ss, "ss", "(scale[1] - scale[0]) * 2^-32")
        r = b.exp(b.const(r0, "r0", "log(ratio[0])") + b.draw(1) * b.const(rs, "rs", "(log(ratio[1]) - r0) * 2^-32"))
        r = b.minimum(b.maximum(r, s), 1.0 / s)  # the ratio that fits: w, h <= 1
        w = b.minimum(b.sqrt(s * r), 1.0)
        h = b.minimum(s / w, 1.0)
        return b.unit(2) * (1.0 - w), b.unit(3) * (1.0 - h), w, h


@register_spec
@dataclass(frozen=True)
class ResizedCropSpec(_BoxSpec):
    """The crop box of a random resized crop; outputs ``<name>_x, _y, _w, _h``, identity the full image.

    >>> ResizedCropSpec(scale=(0.5, 1.0)).to_dict()["scale"]
    [0.5, 1.0]
    """

    kind: ClassVar[str] = "resized_crop"
    doc_example: ClassVar[dict[str, Any] | None] = {}

    def default_identity(self) -> Any:
        return (0.0, 0.0, 1.0, 1.0)


@register_spec
@dataclass(frozen=True)
class ErasingSpec(_BoxSpec):
    """The box of a random erasing; outputs ``<name>_x, _y, _w, _h``, identity an empty box.

    Defaults follow torchvision's ``RandomErasing``: area 2%..33%, ratio 0.3..3.3.
    """

    kind: ClassVar[str] = "erasing"
    doc_example: ClassVar[dict[str, Any] | None] = {}
    scale: tuple = (0.02, 0.33)
    ratio: tuple = (0.3, 3.3)

    def default_identity(self) -> Any:
        return (0.0, 0.0, 0.0, 0.0)


@register_spec
@dataclass(frozen=True)
class PermutationSpec(Spec):
    """A uniformly random order of ``n`` items (2 <= n <= 12); outputs ``<name>_0 .. _{n-1}``.

    ``k = floor(w * n! / 2**64)`` from one 64-bit word is decoded as a Lehmer
    code: digit ``c_i = (k // (n-1-i)!) % (n-i)``, then, right to left, every
    later position ``j`` with ``p_j >= p_i`` is incremented. Identity: ``0, 1, ..., n-1``.
    """

    kind: ClassVar[str] = "permutation"
    doc_example: ClassVar[dict[str, Any] | None] = {"n": 4}
    n_draws: ClassVar[int] = 2
    n: int = 4

    def _validate(self) -> None:
        object.__setattr__(self, "n", domains.whole(self.kind, "n", self.n, 2, 12))

    def default_identity(self) -> Any:
        return tuple(range(self.n))

    def _check_identity(self, identity: Any) -> Any:
        raise ValueError(f"{self.kind} has a fixed identity {self.default_identity()}; do not pass 'identity'")

    def outputs(self) -> tuple[Output, ...]:
        return tuple(Output(f"_{i}", "int", i) for i in range(self.n))

    def program(self, b: Builder) -> Any:
        n = b.field(self, "n")
        return b.perm_decode(b.mulhi(0, b.const(math.factorial(self.n), "n!")), n)
