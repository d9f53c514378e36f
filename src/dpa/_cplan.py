"""Translate a generation plan into a program for the optional C kernel (``dpa._ckernel``).

The C kernel fuses hashing and mapping for the built-in spec kinds; this
module hands it each spec's constants exactly as the Python specs compute
them (so both paths evaluate the same formulas on the same doubles). A config
with any other kind (a user's registered spec, or a subclass of a built-in
one, whose overrides the kernel cannot know) is not compiled and runs on the
numpy interpreter of its spec programs. (The next step replaces this with a
kernel that runs the programs themselves.) ``DPA_DISABLE_CKERNEL=1`` in the environment turns the kernel off
(see :func:`dpa.prng.compiled_kernel`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from dpa import prng
from dpa.composite import ErasingSpec, PermutationSpec, ResizedCropSpec
from dpa.specs import (
    BernoulliSpec,
    ChoiceSpec,
    IntegerSpec,
    LogUniformSpec,
    NormalSpec,
    TruncatedNormalSpec,
    UniformSpec,
    gate_threshold,
)

__all__ = ["compile_program"]

# Op kinds, in the order of the C enum.
_UNIFORM, _LOG_UNIFORM, _NORMAL, _TRUNC_NORMAL, _INTEGER, _CHOICE, _BERNOULLI, _BOX, _PERMUTATION = range(9)
_TYPE_CODES = {"float": "f", "int": "i", "bool": "b"}


def _op_constants(spec: Any) -> tuple[int, tuple, tuple, tuple, tuple] | None:
    """(kind, floats, ints, thresholds, values) of a built-in spec; None for any other."""
    t = type(spec)
    if t is UniformSpec:
        return _UNIFORM, (spec._scale, spec.low), (), (), ()
    if t is LogUniformSpec:
        a, b = spec._consts
        return _LOG_UNIFORM, (a, b, spec.low, spec.high), (), (), ()
    if t is NormalSpec:
        return _NORMAL, (spec.mean, spec.std), (), (), ()
    if t is TruncatedNormalSpec:
        fa, span, sign = spec._consts
        return _TRUNC_NORMAL, (fa, span, sign, spec.mean, spec.std, spec.low, spec.high), (), (), ()
    if t is IntegerSpec:
        return _INTEGER, (), (spec.high - spec.low + 1, spec.low), (), ()
    if t is ChoiceSpec:
        # Values past the last threshold below 2**64 have weight 0: no word reaches them.
        return _CHOICE, (), (), spec.thresholds, spec.values[: len(spec.thresholds) + 1]
    if t is BernoulliSpec:
        return _BERNOULLI, (), (), (), ()
    if t in (ResizedCropSpec, ErasingSpec):
        return _BOX, spec._consts, (), (), ()
    if t is PermutationSpec:
        return _PERMUTATION, (), (math.factorial(spec.n), 0), (), ()
    return None


def compile_program(layout: Any, row_k2: Any) -> Any:
    """A ``_ckernel.Program`` for a layout and one epoch's row constants, or None (no kernel, or a kind it does not know)."""
    kernel = prng.compiled_kernel()
    if kernel is None:
        return None
    ops = []
    for p in layout.params:
        consts = _op_constants(p.spec)
        if consts is None:
            return None
        kind, floats, ints, thresholds, values = consts
        if kind == _BERNOULLI:  # its p is the value's probability, read from the same threshold field
            gate_draw, gate_t = -1, gate_threshold(p.spec.p)
        elif p.gate is not None:
            gate_draw, gate_t = p.gate
        else:
            gate_draw, gate_t = -1, 0
        # An ungated spec may have no identity; the kernel never reads it then.
        identities = tuple(0 if v is None else v for v in p.identities)
        ops.append((kind, p.row0, p.slots, gate_draw, gate_t, identities, floats, ints, thresholds, values))
    return kernel.Program(
        [int(x) for x in layout.row_c.ravel()],
        [int(x) for x in row_k2.ravel()],
        tuple(layout.names),
        "".join(_TYPE_CODES[d] for d in layout.dtypes),
        ops,
    )
