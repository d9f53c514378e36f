"""The fused Triton kernel: every output of a config for a block of ids, in one launch.

One program instance takes ``BLOCK`` consecutive ids, computes the per-id
half of XXH64 once, then walks the config's program (:mod:`dpa._gpu.program`)
record by record: hash the record's words from the per-(seed, epoch) row
constants, map them with the kind's device function (:mod:`dpa._gpu.kinds`)
or its spec program (:mod:`dpa._gpu.walker`), apply the gate, and store each output straight into its row of one of three
output buffers (float64, int64, bool; a row per output, ``n`` ids long).
The program is a ``tl.constexpr``: Triton unrolls it at compile time into
straight-line code for that config and caches the compiled kernel, so the
records cost nothing at run time and a new seed or epoch (a new row-constant
tensor) never recompiles.

Launched with ``enable_fp_fusion=False``: no multiply-add contraction, so
every float64 operation rounds on its own, as docs/SPEC.md requires.
Imported only when the Triton path runs (``import dpa`` never imports triton
or torch).
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import torch
import triton
import triton.language as tl

from dpa._gpu import kinds, prims, walker
from dpa._gpu import program as _program

__all__ = ["fused_kernel", "launch", "batch", "compile_for", "BLOCK", "NUM_WARPS", "COMPILE_OPTIONS"]

# Ids per program instance and warps per instance. Not tuned on a device yet
# (no GPU was lent while this was written): the kernel is bound by stores, so
# a block only has to be large enough to keep every output's stores coalesced.
BLOCK = 512
NUM_WARPS = 4
# Every launch's compile options: no multiply-add contraction (docs/SPEC.md rounds each operation).
COMPILE_OPTIONS = {"num_warps": NUM_WARPS, "enable_fp_fusion": False}

K_UNIFORM = tl.constexpr(_program.K_UNIFORM)
K_LOG_UNIFORM = tl.constexpr(_program.K_LOG_UNIFORM)
K_NORMAL = tl.constexpr(_program.K_NORMAL)
K_TRUNC_NORMAL = tl.constexpr(_program.K_TRUNC_NORMAL)
K_INTEGER = tl.constexpr(_program.K_INTEGER)
K_CHOICE = tl.constexpr(_program.K_CHOICE)
K_BERNOULLI = tl.constexpr(_program.K_BERNOULLI)
K_BOX = tl.constexpr(_program.K_BOX)
K_PERMUTATION = tl.constexpr(_program.K_PERMUTATION)
K_PROGRAM = tl.constexpr(_program.K_PROGRAM)
FLOAT = tl.constexpr(_program.FLOAT)
INT = tl.constexpr(_program.INT)


@triton.jit
def _words(ra, rows_ptr, ROW: tl.constexpr, N_WORDS: tl.constexpr):
    """Hash words ``ROW .. ROW + N_WORDS - 1`` of every id of the block, as a tuple."""
    words = ()
    for j in tl.static_range(N_WORDS):
        c = prims.as_u64(tl.load(rows_ptr + 2 * (ROW + j)))
        k2 = prims.as_u64(tl.load(rows_ptr + 2 * (ROW + j) + 1))
        words = words + (prims.finish(ra, c, k2),)
    return words


@triton.jit
def _values(KIND: tl.constexpr, words, C: tl.constexpr):
    """The kind's outputs before gating: a built-in kind's device function, or a spec program's ops."""
    if KIND == K_UNIFORM:
        out = kinds.uniform(words, C[0], C[1])
    elif KIND == K_LOG_UNIFORM:
        out = kinds.log_uniform(words, C[0], C[1], C[2], C[3])
    elif KIND == K_NORMAL:
        out = kinds.normal(words, C[0], C[1])
    elif KIND == K_TRUNC_NORMAL:
        out = kinds.truncated_normal(words, C[0], C[1], C[2], C[3], C[4], C[5], C[6])
    elif KIND == K_INTEGER:
        out = kinds.integer(words, C[0], C[1])
    elif KIND == K_CHOICE:
        out = kinds.choice(words, C[0], C[1], C[2])
    elif KIND == K_BERNOULLI:
        out = kinds.bernoulli(words, C[0])
    elif KIND == K_BOX:
        out = kinds.box(words, C[0], C[1], C[2], C[3])
    elif KIND == K_PERMUTATION:
        out = kinds.permutation(words, C[0], C[1])
    else:
        tl.static_assert(KIND == K_PROGRAM, "unknown kind code")
        out = walker.run(words, C[0], C[1])
    return out


@triton.jit
def _record(REC: tl.constexpr, ra, rows_ptr, f_ptr, i_ptr, b_ptr, offs, mask, n):
    """Compute one parameter's outputs for the block and store them."""
    GATE: tl.constexpr = REC[3]
    OUTS: tl.constexpr = REC[4]
    words = _words(ra, rows_ptr, REC[1], REC[2])
    vals = _values(REC[0], words, REC[5])
    if GATE[0] >= 0:
        open_ = prims.below(prims.draw(words, GATE[0]), GATE[1])
        gated = ()
        for j in tl.static_range(len(OUTS)):
            gated = gated + (prims.select(open_, vals[j], OUTS[j][2], OUTS[j][0] == FLOAT),)
        vals = gated
    for j in tl.static_range(len(OUTS)):
        # The row offset in int64: slot * n passes 2**31 for large batches.
        at = tl.full([], OUTS[j][1], tl.int64) * n + offs
        if OUTS[j][0] == FLOAT:
            tl.store(f_ptr + at, vals[j], mask=mask)
        elif OUTS[j][0] == INT:
            tl.store(i_ptr + at, vals[j], mask=mask)
        else:
            tl.store(b_ptr + at, vals[j], mask=mask)


# The kernel's argument types as triton.compile takes them (for compiling ahead of a launch).
SIGNATURE = {
    "ids_ptr": "*i64", "rows_ptr": "*i64", "f_ptr": "*fp64", "i_ptr": "*i64", "b_ptr": "*i1", "n": "i32",
    "PROGRAM": "constexpr", "BLOCK": "constexpr",
}


@triton.jit(do_not_specialize=["n"])
def fused_kernel(ids_ptr, rows_ptr, f_ptr, i_ptr, b_ptr, n, PROGRAM: tl.constexpr, BLOCK: tl.constexpr):
    """Every output of ``PROGRAM`` for ids ``[pid * BLOCK, (pid + 1) * BLOCK)`` of ``n``.

    Args:
        ids_ptr: int64 ids (the uint64 ids' bits), ``n`` of them.
        rows_ptr: int64 row constants, ``c, k2`` interleaved per hash row
            (:func:`dpa._gpu.program.row_constants`).
        f_ptr, i_ptr, b_ptr: float64, int64 and bool buffers of shape
            ``(outputs of that dtype, n)``, row-major.
        n: the number of ids (not specialised on: any batch size shares a kernel).
        PROGRAM: the records of :func:`dpa._gpu.program.build_program`.
        BLOCK: ids per program instance.
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    ra = prims.id_lane(prims.as_u64(tl.load(ids_ptr + offs, mask=mask, other=0)))
    for r in tl.static_range(len(PROGRAM)):
        _record(PROGRAM[r], ra, rows_ptr, f_ptr, i_ptr, b_ptr, offs, mask, n)


def compile_for(prog: _program.Program, arch: int = 90, warp_size: int = 32) -> Any:
    """Compile the kernel of ``prog`` for a CUDA architecture, ahead of any launch (no GPU needed).

    With the options every launch uses. The result's ``asm`` holds the
    ``ttir``, ``llir``, ``ptx`` and ``cubin`` texts, to inspect what a
    device would run (tests/dpa/test_triton.py reads the PTX).

    Args:
        prog: the config's program.
        arch: the compute capability as an int (90: H100).
        warp_size: threads per warp.

    Returns:
        A ``triton.compiler.CompiledKernel``.
    """
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    src = ASTSource(fn=fused_kernel, signature=SIGNATURE, constexprs={"PROGRAM": prog.records, "BLOCK": BLOCK})
    return triton.compile(src, target=GPUTarget("cuda", arch, warp_size), options=dict(COMPILE_OPTIONS))


def launch(prog: _program.Program, rows: torch.Tensor, ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run the fused kernel on ``ids`` and return ``{output name: tensor}`` in config order.

    Args:
        prog: the config's program.
        rows: the plan's row constants as an int64 tensor on ``ids``' device.
        ids: 1-D int64 tensor of ids (uint64 bits), contiguous.

    Returns:
        float64 / int64 / bool tensors of ``len(ids)`` values each: rows of
        three buffers, one allocation per dtype.
    """
    n = ids.shape[0]
    dev = ids.device
    nf, ni, nb = prog.counts
    # One row at least: an empty buffer has no address to pass.
    f = torch.empty((max(nf, 1), n), dtype=torch.float64, device=dev)
    i = torch.empty((max(ni, 1), n), dtype=torch.int64, device=dev)
    b = torch.empty((max(nb, 1), n), dtype=torch.bool, device=dev)
    if n:
        grid = (triton.cdiv(n, BLOCK),)
        # Triton launches on the current device: make it the ids' one.
        other = dev.type == "cuda" and dev.index is not None and dev.index != torch.cuda.current_device()
        with torch.cuda.device(dev) if other else contextlib.nullcontext():
            fused_kernel[grid](ids, rows, f, i, b, n, PROGRAM=prog.records, BLOCK=BLOCK, **COMPILE_OPTIONS)
    rows_of = (f.unbind(0), i.unbind(0), b.unbind(0))  # one call per buffer: indexing rows one by one costs more
    return {name: rows_of[code][slot] for name, code, slot in prog.layout}


# Per plan (weakly held, so it goes with the plan): the program, and the row
# constants per device.
_PLANS: "weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, torch.Tensor]]]" = weakref.WeakKeyDictionary()


def batch(plan: Any, ids: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """A plan's outputs for ``ids`` through the fused kernel, or None if a spec kind has no device function.

    Reads the plan's ``entries``, ``row_c``, ``row_k2`` and ``config.outputs``.
    """
    cached = _PLANS.get(plan)
    if cached is None:
        cached = (_program.build_program(plan.entries, plan.config.outputs), {})
        _PLANS[plan] = cached
    prog, rows_by_device = cached
    if prog is None:
        return None
    key = str(ids.device)
    rows = rows_by_device.get(key)
    if rows is None:
        values = _program.row_constants(plan.row_c, plan.row_k2)
        rows = torch.tensor(values, dtype=torch.int64, device=ids.device)
        rows_by_device[key] = rows
    return launch(prog, rows, ids.contiguous())
