"""The fused kernel as the generator runs it: per-plan state, the first-run check, the fallback.

No GPU was lent while the kernel was written, so its bits were checked by
Triton's interpreter and its compiled instructions on PTX, never on a
device. It is selected automatically anyway, safely: the first time a
compiled kernel (one per distinct program) runs on a device in a process,
its outputs for a small batch (:data:`CHECK_IDS`) are compared bit for bit
with the torch kernels' on that device. A mismatch, or a kernel that fails
to compile or launch, gives one :class:`RuntimeWarning` naming what failed,
and that config runs on the torch kernels (same values, slower) from then
on in the process.

What a plan keeps, per device, in its ``kernels`` dict: the bound kernel
(:class:`_Bound`: the compiled launcher, the row constants as a device
tensor, the output names and dtypes) or :data:`_OFF`. A call then does no
host-device synchronisation and no Python work per parameter: one
``torch.empty`` per output and one launch.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable

import torch

from dpa._gpu import fused
from dpa._gpu import program as _program
from dpa.version import __version__

__all__ = ["batch", "active", "CHECK_IDS"]

# The check batch: the ids at the ends of the range and of its 32- and 63-bit halves, then 0, 1, 2, ...
_EDGES = [2**64 - 1, 2**64 - 2, 2**63, 2**63 - 1, 2**32, 2**32 - 1]
CHECK_IDS = tuple(_EDGES + list(range(fused.BLOCK - len(_EDGES))))

# A plan's entry for a device where the fused kernel does not run (or is being checked): the torch kernels serve.
_OFF = object()
# Per (program, device), process-wide: True once its first run matched the torch kernels, False once it failed.
_VERDICTS: dict[tuple[tuple, str], bool] = {}
_LOCK = threading.Lock()


class _Bound:
    """A config's kernel bound to one plan and device: ``bound(ids)`` is ``{output name: tensor}``."""

    __slots__ = ("prog", "launch", "device")

    def __init__(self, prog: _program.Program, launch: Callable, device: torch.device) -> None:
        self.prog, self.launch, self.device = prog, launch, device

    def __call__(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = fused.allocate(self.prog, ids.shape[0], self.device)
        self.launch(ids, outs)
        return dict(zip(self.prog.names, outs))


def batch(plan: Any, ids: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """A plan's outputs for ``ids`` from the fused kernel, or None where the torch kernels must compute them.

    Args:
        plan: a :class:`dpa.generator.EpochPlan` (its ``kernels`` dict keeps
            the bound kernel per device).
        ids: 1-D int64 tensor of ids (uint64 bits).

    Returns:
        ``{output name: tensor}`` in config order, each its own allocation on
        ``ids``' device with the output's dtype; None when the kernel does
        not run for this config there (it failed its first-run check, or a
        spec uses a primitive the kernel lacks).
    """
    bound = plan.kernels.get(ids.device)
    if bound is None:
        bound = _bind(plan, ids.device)
    if bound is _OFF:
        return None
    return bound(ids.contiguous())


def _bind(plan: Any, device: torch.device) -> Any:
    plan.kernels[device] = _OFF  # while binding and checking, this plan's batches take the torch kernels
    prog = _program.build_program(plan.entries, plan.config.outputs)
    if prog is None:
        return _OFF
    key = (prog.records, str(device))
    if _VERDICTS.get(key) is False:
        return _OFF
    try:
        rows = torch.tensor(_program.row_constants(plan.row_c, plan.row_k2), dtype=torch.int64, device=device)
        bound = _Bound(prog, fused.launcher(prog, rows), device)
    except Exception as exc:  # noqa: BLE001 - any compile failure sends the config to the torch kernels
        _fail(key, device, f"did not compile ({type(exc).__name__}: {_first_line(exc)})")
        return _OFF
    if _VERDICTS.get(key) is None and not _check(plan, bound, key):
        return _OFF
    plan.kernels[device] = bound
    return bound


def _check(plan: Any, bound: _Bound, key: tuple) -> bool:
    """Run the kernel on :data:`CHECK_IDS` and compare with the torch kernels, bit for bit; record the verdict."""
    ids = torch.tensor(CHECK_IDS, dtype=torch.uint64).view(torch.int64).to(bound.device)
    try:
        got = bound(ids)
    except Exception as exc:  # noqa: BLE001 - a launch failure sends the config to the torch kernels
        _fail(key, bound.device, f"failed to launch ({type(exc).__name__}: {_first_line(exc)})")
        return False
    want = plan.torch(ids)  # the torch kernels: this plan's entry is _OFF while it is checked
    bad = [name for name in bound.prog.names if not torch.equal(_bits(got[name]), _bits(want[name]))]
    if bad:
        listed = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        _fail(key, bound.device, f"gave values that differ from the torch kernels' ({listed}) on its check batch")
        return False
    with _LOCK:
        _VERDICTS.setdefault(key, True)
    return _VERDICTS[key]


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.int64) if t.dtype == torch.float64 else t


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "no message"


def _fail(key: tuple, device: torch.device, what: str) -> None:
    """Record the failure and warn, once per (program, device)."""
    with _LOCK:
        first = key not in _VERDICTS or _VERDICTS[key] is not False
        _VERDICTS[key] = False
    if not first:
        return
    import triton

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "Triton's interpreter on the CPU"
    warnings.warn(
        f"dpa: the fused Triton kernel {what} on {device} ({where}). This config's batches on that device use "
        f"the torch kernels from now on in this process: the same values, more slowly. Please report this to "
        f"the dpa maintainers with this message and the versions (dpa {__version__}, torch "
        f"{torch.__version__}, triton {triton.__version__}, CUDA {torch.version.cuda}). Setting "
        f"DPA_DISABLE_TRITON=1 skips the kernel and this check.",
        RuntimeWarning,
        stacklevel=2,
    )


def active(plan: Any, device: Any) -> bool:
    """Whether the fused kernel computes ``plan``'s batches on ``device`` (it has run there and passed its check)."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:  # "cuda": the current device, as tensors made there say
        dev = torch.device("cuda", torch.cuda.current_device())
    return isinstance(plan.kernels.get(dev), _Bound)
