"""The fused Triton kernel: every output of a config for a block of ids, in one launch.

One program instance takes ``BLOCK`` consecutive ids, computes the per-id
half of XXH64 once, then walks the config's program (:mod:`dpa._gpu.program`)
record by record: hash the record's words from the per-(seed, epoch) row
constants, run the parameter's spec program (:mod:`dpa._gpu.walker`), apply
the gate, and store each output straight into its own output tensor (one
pointer per output, in config order, with the output's dtype: float64,
int64 or bool). The program is a ``tl.constexpr``: Triton unrolls it at
compile time into straight-line code for that config, so the records cost
nothing at run time and a new seed or epoch (a new row-constant tensor)
never recompiles.

Compiled with ``enable_fp_fusion=False``: no multiply-add contraction, so
every float64 operation rounds on its own, as docs/SPEC.md requires.
Imported only when the Triton path runs (``import dpa`` never imports triton
or torch).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import torch
import triton
import triton.language as tl

from dpa._gpu import prims, walker
from dpa._gpu import program as _program

__all__ = ["fused_kernel", "compile_for", "launcher", "allocate", "BLOCK", "NUM_WARPS", "COMPILE_OPTIONS",
           "signature", "TORCH_DTYPES"]

# Ids per program instance and warps per instance. Not tuned on a device yet
# (no GPU was lent while this was written): the kernel is bound by stores, so
# a block only has to be large enough to keep every output's stores coalesced.
BLOCK = 512
NUM_WARPS = 4
# Every launch's compile options: no multiply-add contraction (docs/SPEC.md rounds each operation).
COMPILE_OPTIONS = {"num_warps": NUM_WARPS, "enable_fp_fusion": False}
# The output tensors' dtypes, by dtype code.
TORCH_DTYPES = {_program.FLOAT: torch.float64, _program.INT: torch.int64, _program.BOOL: torch.bool}
_POINTER_TYPES = {_program.FLOAT: "*fp64", _program.INT: "*i64", _program.BOOL: "*i1"}

FLOAT = tl.constexpr(_program.FLOAT)


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
def _record(REC: tl.constexpr, ra, rows_ptr, outs, offs, mask):
    """Compute one parameter's outputs for the block and store each into its output tensor."""
    GATE: tl.constexpr = REC[2]
    OUTS: tl.constexpr = REC[3]
    words = _words(ra, rows_ptr, REC[0], REC[1])
    vals = walker.run(words, REC[4], REC[5])
    if GATE[0] >= 0:
        open_ = prims.below(prims.draw(words, GATE[0]), GATE[1])
        gated = ()
        for j in tl.static_range(len(OUTS)):
            gated = gated + (prims.select(open_, vals[j], OUTS[j][2], OUTS[j][0] == FLOAT),)
        vals = gated
    for j in tl.static_range(len(OUTS)):
        tl.store(outs[OUTS[j][1]] + offs, vals[j], mask=mask)


@triton.jit(do_not_specialize=["n"], do_not_specialize_on_alignment=["ids_ptr"])
def fused_kernel(ids_ptr, rows_ptr, outs, n, PROGRAM: tl.constexpr, BLOCK: tl.constexpr):
    """Every output of ``PROGRAM`` for ids ``[pid * BLOCK, (pid + 1) * BLOCK)`` of ``n``.

    Args:
        ids_ptr: int64 ids (the uint64 ids' bits), ``n`` of them (any
            alignment: a slice of a tensor is taken as it is).
        rows_ptr: int64 row constants, ``c, k2`` interleaved per hash row
            (:func:`dpa._gpu.program.row_constants`).
        outs: one pointer per output, in config order: float64, int64 or
            bool tensors of ``n`` elements.
        n: the number of ids (not specialised on: any batch size shares a kernel).
        PROGRAM: the records of :func:`dpa._gpu.program.build_program`.
        BLOCK: ids per program instance.
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    ra = prims.id_lane(prims.as_u64(tl.load(ids_ptr + offs, mask=mask, other=0)))
    for r in tl.static_range(len(PROGRAM)):
        _record(PROGRAM[r], ra, rows_ptr, outs, offs, mask)


def signature(prog: _program.Program) -> dict[str, Any]:
    """The kernel's argument types for ``prog``, as ``triton.compile`` takes them (outputs as a tuple)."""
    outs = tuple(_POINTER_TYPES[d] for d in prog.dtypes)
    return {"ids_ptr": "*i64", "rows_ptr": "*i64", "outs": outs, "n": "i32", "PROGRAM": "constexpr",
            "BLOCK": "constexpr"}



def compile_for(prog: _program.Program, arch: int = 90, warp_size: int = 32, **options: Any) -> Any:
    """Compile the kernel of ``prog`` for a CUDA architecture, ahead of any launch (no GPU needed).

    With the options every launch uses (``options`` override them, e.g.
    ``enable_fp_fusion=True`` to see what contraction would do). The
    result's ``asm`` holds the ``ttir``, ``llir``, ``ptx`` and ``cubin``
    texts, to inspect what a device would run (tests/dpa/test_triton.py
    reads the PTX).

    Args:
        prog: the config's program.
        arch: the compute capability as an int (90: H100).
        warp_size: threads per warp.

    Returns:
        A ``triton.compiler.CompiledKernel``.
    """
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    src = ASTSource(fn=fused_kernel, signature=signature(prog), constexprs={"PROGRAM": prog.records, "BLOCK": BLOCK})
    return triton.compile(src, target=GPUTarget("cuda", arch, warp_size), options={**COMPILE_OPTIONS, **options})


def allocate(prog: _program.Program, n: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The output tensors of ``prog`` for ``n`` ids: one allocation each, in config order."""
    return tuple(torch.empty(n, dtype=TORCH_DTYPES[d], device=device) for d in prog.dtypes)


def launcher(prog: _program.Program, rows: torch.Tensor) -> Callable[[torch.Tensor, Sequence[torch.Tensor]], None]:
    """A function ``launch(ids, outs)`` that runs the kernel of ``prog`` on ``rows``' device.

    Compiles (or loads from Triton's cache) once, here: a launch then skips
    Triton's per-call argument binding and cache lookup, which would hash
    the whole program (a constexpr as large as the config) on every call.
    Under Triton's interpreter (``TRITON_INTERPRET=1``) it runs the kernel
    through the interpreter instead.

    Args:
        prog: the config's program.
        rows: its row constants, an int64 tensor on the device to run on.

    Returns:
        ``launch(ids, outs)``: ids a 1-D int64 tensor on that device (uint64
        bits, any alignment, contiguous), outs from :func:`allocate`.

    Raises:
        Whatever Triton raises when the kernel does not compile.
    """
    device = rows.device
    records = prog.records
    if not isinstance(fused_kernel, triton.runtime.JITFunction):  # the interpreter

        def interpret(ids: torch.Tensor, outs: Sequence[torch.Tensor]) -> None:
            n = ids.shape[0]
            if n:
                fused_kernel[(triton.cdiv(n, BLOCK),)](ids, rows, tuple(outs), n, PROGRAM=records, BLOCK=BLOCK,
                                                       **COMPILE_OPTIONS)

        return interpret

    with _on(device):
        probe = allocate(prog, 1, device)
        kernel = fused_kernel.warmup(torch.zeros(1, dtype=torch.int64, device=device), rows, probe, 1,
                                     PROGRAM=records, BLOCK=BLOCK, grid=(1,), **COMPILE_OPTIONS)

    def launch(ids: torch.Tensor, outs: Sequence[torch.Tensor]) -> None:
        n = ids.shape[0]
        if n:
            with _on(device):
                kernel[(triton.cdiv(n, BLOCK), 1, 1)](ids, rows, tuple(outs), n, records, BLOCK)

    return launch


def _on(device: torch.device) -> Any:
    """Triton launches on the current CUDA device: make it ``device`` for the block (a no-op when it is)."""
    if device.type == "cuda" and device.index is not None and device.index != torch.cuda.current_device():
        return torch.cuda.device(device)
    return contextlib.nullcontext()
