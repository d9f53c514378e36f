"""dpa.Generator: a config compiled for one seed, immutable, explicit about the epoch.

In the spirit of numpy's ``Generator`` and JAX's explicit keys, a
:class:`Generator` holds everything that does not depend on the sample ids
or the epoch (the layout of the config's parameters, their stream keys, the
compiled programs) and takes the epoch with every call::

    gen = dpa.Generator(dpa.get_preset("moderate"), seed=1234)
    gen.params(42, epoch=3)                     # one sample: plain Python values
    gen.batch(range(1000), epoch=3)             # many: one array per output
    for chunk in gen.chunks(10**8, epoch=3):    # a stream in constant memory
        ...

It has no mutable state a caller can see: the same call gives the same
values in any order, thread or process, and it pickles (to spawned
DataLoader workers, say), recompiling where it is unpickled. A few epochs'
constants are kept inside it (bounded), so switching epochs costs a few
microseconds, not a recompile.

Backends: the C kernel (``dpa._ckernel``, where it was built) runs one
sample and numpy batches; without it, one sample runs as compiled Python
(:mod:`dpa._pyexec`) and batches through numpy (:mod:`dpa._arrayexec`);
``backend="torch"`` on a GPU runs the torch interpreter. All give the same
bits (docs/SPEC.md).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Iterator, Mapping

import numpy as np

from dpa import _cplan, _pyexec, prng
from dpa._arrayexec import ArrayProgram, NumpyPrims, TorchPrims
from dpa._layout import Layout
from dpa.chunk import ID_END, ParamBatch, check_stream_args
from dpa.config import AugmentationConfig
from dpa.ids import as_sample_ids, as_torch_ids, ids_for_numpy, torch_device
from dpa.keys import MAX_SAMPLE_ID, check_epoch, check_sample_id, check_seed

__all__ = ["Generator", "EpochPlan", "BACKENDS", "EXECUTORS", "as_config"]

BACKENDS = ("numpy", "torch")
# Who computes a batch: the C kernel, the numpy or torch interpreter, or the compiled Python one-sample function.
EXECUTORS = ("compiled", "numpy", "torch", "python")
_DTYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_}

# Ids per numpy block: rows x block words stay in L2 and a ufunc call covers
# enough elements to amortise its overhead.
_BLOCK_ELEMENTS = 1 << 18
# Ids per torch block, bounding the (rows, block) int64 temporaries.
_TORCH_BLOCK = 1 << 20
# Epochs whose constants a generator keeps (a training run asks for one at a time).
_EPOCHS_KEPT = 8


def as_config(config: Any) -> AugmentationConfig:
    """``config`` as an :class:`AugmentationConfig` (a dict of specs is converted).

    Raises:
        TypeError: neither a config nor a mapping.
    """
    if isinstance(config, AugmentationConfig):
        return config
    if isinstance(config, Mapping):
        return AugmentationConfig(config)
    raise TypeError(
        f"config must be an AugmentationConfig (e.g. dpa.get_preset('moderate')) or a dict of specs; "
        f"got {type(config).__name__}"
    )


class EpochPlan:
    """A generator's view of one epoch: what kernels (the C kernel, a GPU kernel generator) read, and its paths.

    Made by :meth:`Generator.plan` and kept inside the generator (the same
    object while its epoch is kept), so a kernel may cache per plan.

    Attributes:
        config, seed, epoch: what it generates.
        entries: the parameters in row order (:class:`dpa._layout.Param`:
            ``spec``, ``program``, ``names``, ``slots``, ``row0``,
            ``n_words``, ``gate``, ``identities``, ``key``).
        n_rows: hash rows per sample.
        row_c, row_k2: per row, ``rotl(key + P5 + 16, 27)`` and
            ``round(counter word)`` (uint64, shape ``(n_rows, 1)``; SPEC section 2).
        compiled: True when the C kernel runs its numpy and one-sample paths.
        kernels: what a GPU kernel keeps for this plan, per device (``dpa._gpu``:
            the compiled fused kernel and the row constants on that device).
    """

    def __init__(self, gen: "Generator", epoch: int) -> None:
        layout = gen._layout
        self._gen = gen
        self.config, self.seed, self.epoch = gen.config, gen.seed, epoch
        self.entries, self.n_rows, self.row_c = layout.params, layout.n_rows, layout.row_c
        self.row_k2 = layout.row_k2(epoch)
        kernel = gen._kernel()
        self._program = _cplan.bind(kernel, layout, self.row_k2) if kernel is not None else None
        self.compiled = self._program is not None
        self.scalar = self._program.one if self._program is not None else gen._scalar_factory()(epoch)
        self._torch_rows: dict[str, Any] = {}
        self.kernels: dict[Any, Any] = {}

    def __reduce__(self) -> tuple:
        return (_plan_of, (self._gen, self.epoch))

    def numpy(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for uint64 ``ids`` (checked already), fastest executor; see :meth:`Generator.batch`."""
        return self._gen._numpy(self, ids)

    def torch(self, ids: Any) -> dict[str, Any]:
        """Every output for an int64 tensor of ids on any device, by torch kernels (or the fused GPU kernel)."""
        return self._gen._torch(self, ids)


def _plan_of(gen: "Generator", epoch: int) -> EpochPlan:
    return gen.plan(epoch=epoch)


class Generator:
    """A config compiled for one seed: the parameters of any sample, in any epoch, on any backend.

    Args:
        config: an :class:`~dpa.AugmentationConfig` (or a dict of specs).
        seed: the run's seed, an int in ``[0, 2**64)``.
        compiled: use the C kernel where it is built (the default). False
            runs the pure Python and numpy backends (same bits, slower).

    Raises:
        TypeError: a config that is not one, a seed that is not an int.
        ValueError: a seed outside ``[0, 2**64)``, an invalid config.

    >>> import dpa
    >>> gen = dpa.Generator(dpa.get_preset("mild"), seed=1)
    >>> gen.params(7, epoch=2) == dpa.gen_augmentation_params(7, dpa.get_preset("mild"), seed=1, epoch=2)
    True
    >>> float(gen.batch([6, 7], epoch=2)["rotation"][1]) == gen.params(7, epoch=2)["rotation"]
    True
    """

    def __init__(self, config: Any, *, seed: int = 0, compiled: bool = True) -> None:
        self._config = as_config(config)
        self._seed = check_seed(seed)
        self._compiled = bool(compiled)
        self._layout = Layout(self._config, self._seed)
        self._use_kernel = self._compiled and prng.compiled_kernel() is not None
        self._epochs: dict[int, EpochPlan] = {}
        self._lock = threading.Lock()
        self._lazy: dict[str, Any] = {}

    # -- identity ------------------------------------------------------------
    @property
    def config(self) -> AugmentationConfig:
        """The config it generates."""
        return self._config

    @property
    def seed(self) -> int:
        """The seed."""
        return self._seed

    @property
    def compiled(self) -> bool:
        """True when the C kernel runs its one-sample and numpy paths."""
        return self._use_kernel

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs, in config order (the keys of every result)."""
        return self._layout.names

    def __repr__(self) -> str:
        return f"Generator({self._config!r}, seed={self._seed})"

    def __reduce__(self) -> tuple:
        # Compiled programs are process memory (and the receiving process may
        # have no kernel); the values are the same either way.
        return (_rebuild, (self._config, self._seed, self._compiled))

    # -- epochs --------------------------------------------------------------
    def _epoch(self, epoch: Any) -> EpochPlan:
        e = self._epochs.get(epoch) if type(epoch) is int else None
        if e is not None:
            return e
        epoch = check_epoch(epoch)
        with self._lock:
            e = self._epochs.get(epoch)
            if e is None:
                e = EpochPlan(self, epoch)
                if len(self._epochs) >= _EPOCHS_KEPT:
                    del self._epochs[next(iter(self._epochs))]
                self._epochs[epoch] = e
        return e

    def _kernel(self) -> Any:
        """The compiled kernel of the layout (made once), or None without one."""
        if not self._use_kernel:
            return None
        kernel = self._lazy.get("kernel")
        if kernel is None:
            kernel = self._lazy["kernel"] = _cplan.compile_kernel(self._layout)
        return kernel

    def _scalar_factory(self) -> Any:
        factory = self._lazy.get("scalar")
        if factory is None:
            factory = self._lazy["scalar"] = _pyexec.compile_scalar(self._layout)
        return factory

    def sampler(self, *, epoch: int = 0) -> Any:
        """A function ``sample_id -> {output name: value}`` for one epoch (:meth:`params` without the lookups).

        The function takes ints in ``[0, 2**64)`` only and skips the checks
        that :meth:`params` makes, for hot loops over trusted ids.
        """
        return self._epoch(epoch).scalar

    def plan(self, *, epoch: int = 0) -> EpochPlan:
        """The :class:`EpochPlan` of ``epoch``: rows, constants and parameters, for kernels and generators of kernels.

        Raises:
            TypeError, ValueError: a bad epoch.
        """
        return self._epoch(epoch)

    # -- one sample ----------------------------------------------------------
    def params(self, sample_id: int, *, epoch: int = 0) -> dict[str, Any]:
        """The parameters of one sample as plain Python values, ``{output name: value}`` in config order.

        Args:
            sample_id: an int in ``[0, 2**64)``.
            epoch: an int in ``[0, 2**32)``.

        Raises:
            TypeError: ``sample_id`` or ``epoch`` not an int (floats and bools are refused).
            ValueError: either outside its range.
        """
        e = self._epochs.get(epoch) if type(epoch) is int else None
        if e is None:
            e = self._epoch(epoch)
        if type(sample_id) is not int or not 0 <= sample_id <= MAX_SAMPLE_ID:
            sample_id = check_sample_id(sample_id)
        return e.scalar(sample_id)

    # -- many samples --------------------------------------------------------
    def batch(
        self, sample_ids: Any, *, epoch: int = 0, backend: str = "numpy", device: Any = None, executor: str | None = None
    ) -> dict[str, Any]:
        """The parameters of many samples, one 1-D array (or tensor) per output.

        Args:
            sample_ids: ids in ``[0, 2**64)``: a list, tuple, range, numpy
                integer array or torch integer tensor (1-D).
            epoch: an int in ``[0, 2**32)``.
            backend: ``"numpy"`` (arrays) or ``"torch"`` (tensors).
            device: torch device for ``backend="torch"`` (default CPU). On the
                CPU the numpy or compiled kernels compute (faster, same bits)
                and the tensors share their memory; on a GPU, torch kernels.
            executor: who computes, to compare implementations (the values are
                the same whichever does): None picks the fastest; ``"compiled"``
                the C kernel, ``"numpy"`` and ``"torch"`` the array
                interpreters (torch on ``device``, CPU by default), ``"python"``
                the one-sample function, id by id.

        Returns:
            ``{output name: array}`` in config order, float64, int64 or bool;
            element ``k`` equals ``params(sample_ids[k], epoch=epoch)``.

        Raises:
            TypeError: ids that are not integers.
            ValueError: an id or epoch out of range, an unknown backend, a
                device without ``backend="torch"``, CUDA asked for but absent.
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}; got {backend!r}")
        if executor is not None and executor not in EXECUTORS:
            raise ValueError(f"executor must be None or one of {list(EXECUTORS)}; got {executor!r}")
        e = self._epoch(epoch)
        if backend == "numpy" and device is not None:
            raise ValueError(f"device={device!r} needs backend='torch'; the numpy backend runs on the CPU")
        if backend == "numpy" and executor != "torch":
            return self._numpy(e, as_sample_ids(sample_ids), executor)
        try:
            import torch
        except ImportError:
            raise ValueError(f"{'executor' if backend == 'numpy' else 'backend'}='torch' needs PyTorch: "
                             f"pip install 'dpa[torch]'") from None
        dev = torch_device(device)
        if executor == "torch" or (executor is None and dev.type != "cpu"):
            out = self._torch(e, as_torch_ids(sample_ids, dev))
            return {k: v.cpu().numpy() for k, v in out.items()} if backend == "numpy" else out
        # On the CPU the compiled and numpy kernels are far faster than torch's
        # and give the same bits; the tensors share the arrays' memory.
        arrays = self._numpy(e, as_sample_ids(ids_for_numpy(sample_ids)), executor)
        return {k: torch.from_numpy(v).to(dev) for k, v in arrays.items()}

    def _numpy(self, e: EpochPlan, ids: np.ndarray, executor: str | None = None) -> dict[str, np.ndarray]:
        n = ids.shape[0]
        outs = self._allocate(n)
        if executor == "compiled" and e._program is None:
            raise ValueError(
                "executor='compiled' needs the C kernel, which is "
                + ("switched off for this generator (compiled=False)" if not self._compiled else
                   "not built here (no C compiler at install time, or DPA_DISABLE_CKERNEL)")
            )
        if e._program is not None and executor in (None, "compiled"):
            e._program.fill(np.ascontiguousarray(ids), tuple(outs))
        elif executor == "python":
            one = e.scalar if e._program is None else self._scalar_factory()(e.epoch)
            for k, sid in enumerate(ids.tolist()):
                for out, value in zip(outs, one(sid).values()):
                    out[k] = value
        elif n:
            self._numpy_blocks(e, ids, outs)
        return dict(zip(self._layout.names, outs))

    def _allocate(self, n: int) -> list[np.ndarray]:
        """One array per output, in config order, each its own allocation (keeping one keeps only its memory)."""
        return [_aligned_empty(n, _DTYPES[d]) for d in self._layout.dtypes]

    def _numpy_blocks(self, e: EpochPlan, ids: np.ndarray, outs: list[np.ndarray]) -> None:
        program = self._lazy.get("numpy")
        if program is None:
            program = self._lazy["numpy"] = ArrayProgram(self._layout, NumpyPrims())
        layout, n = self._layout, ids.shape[0]
        block = max(256, _BLOCK_ELEMENTS // max(layout.n_rows, 1))
        m = min(block, n)
        words = np.empty((layout.n_rows, m), dtype=np.uint64)
        tmp = np.empty((layout.n_rows, m), dtype=np.uint64)
        for start in range(0, n, block):
            stop = min(start + block, n)
            k = stop - start
            w, hi, lo = program.prims.words(ids[start:stop], layout.row_c, e.row_k2, words[:, :k], tmp[:, :k])
            program.block(w, hi, lo, outs, start, stop)

    def _torch(self, e: EpochPlan, ids: Any) -> dict[str, Any]:
        import torch

        from dpa import _gpu
        from dpa._prng_torch import to_signed

        if _gpu.triton_enabled(ids):  # one fused Triton launch; None where the torch kernels must run
            fused = _gpu.fused_batch(e, ids)
            if fused is not None:
                return fused
        key = str(ids.device)
        program = self._lazy.get(("torch", key))
        if program is None:
            program = self._lazy[("torch", key)] = ArrayProgram(self._layout, TorchPrims(ids.device))
        rows = e._torch_rows.get(key)
        if rows is None:
            c = torch.tensor([to_signed(int(x)) for x in self._layout.row_c.ravel()], dtype=torch.int64)
            k2 = torch.tensor([to_signed(int(x)) for x in e.row_k2.ravel()], dtype=torch.int64)
            rows = e._torch_rows[key] = (c.view(-1, 1).to(ids.device), k2.view(-1, 1).to(ids.device))
        n = ids.shape[0]
        dtypes = {"float": torch.float64, "int": torch.int64, "bool": torch.bool}
        outs = [torch.empty(n, dtype=dtypes[d], device=ids.device) for d in self._layout.dtypes]
        for start in range(0, n, _TORCH_BLOCK):
            stop = min(start + _TORCH_BLOCK, n)
            w, hi, lo = program.prims.words(ids[start:stop], *rows)
            program.block(w, hi, lo, outs, start, stop)
        return dict(zip(self._layout.names, outs))

    # -- streams -------------------------------------------------------------
    def chunks(
        self, num_samples: int | float, *, epoch: int = 0, chunk_size: int = 10_000, start: int = 0
    ) -> Iterator[ParamBatch]:
        """The parameters of ids ``start .. num_samples - 1``, chunk by chunk, in constant memory.

        Args:
            num_samples: one past the last id: an int in ``[0, 2**64]``, or
                ``float('inf')`` to run to the last id.
            epoch: an int in ``[0, 2**32)``.
            chunk_size: ids per chunk (memory is about 8 bytes x outputs x chunk_size).
            start: the first id, to resume anywhere in O(1).

        Returns:
            An iterator of :class:`~dpa.ParamBatch`; every argument is checked here,
            before the first chunk.
        """
        total, chunk_size, start = check_stream_args(num_samples, chunk_size, start)
        e = self._epoch(epoch)
        stop = ID_END if total == math.inf else int(total)
        return self._chunks(e, start, stop, chunk_size)

    def _chunks(self, e: EpochPlan, start: int, stop: int, chunk_size: int) -> Iterator[ParamBatch]:
        lo = start
        while lo < stop:
            hi = min(lo + chunk_size, stop)
            ids = np.arange(hi - lo, dtype=np.uint64)
            ids += np.uint64(lo)
            yield ParamBatch(ids, self._numpy(e, ids))
            lo = hi

    def chunks_of(self, id_chunks: Any, *, epoch: int = 0) -> Iterator[ParamBatch]:
        """The parameters of each id array that ``id_chunks`` yields, as :class:`~dpa.ParamBatch` (ids as given).

        For producers that decide the ids themselves (a rank's share, a
        shuffled order); ``padding`` is taken from ``(ids, padding)`` pairs.
        """
        e = self._epoch(epoch)
        for item in id_chunks:
            ids, padding = item if isinstance(item, tuple) else (item, None)
            ids = as_sample_ids(ids)
            yield ParamBatch(ids, self._numpy(e, ids), padding)

    def stream(
        self, num_samples: int | float, *, epoch: int = 0, chunk_size: int = 10_000, start: int = 0
    ) -> Iterator[dict[str, Any]]:
        """One dict of plain Python values per id ``start .. num_samples - 1``, generated chunk-wise.

        Same arguments as :meth:`chunks`; item ``k`` equals ``params(start + k, epoch=epoch)``.
        """
        chunks = self.chunks(num_samples, epoch=epoch, chunk_size=chunk_size, start=start)
        return (row for chunk in chunks for row in chunk.to_dicts())


# 2 MiB: the transparent huge page size on x86-64 and arm64 Linux.
_HUGE_PAGE = 1 << 21


def _aligned_empty(n: int, dtype: Any) -> np.ndarray:
    """``np.empty(n, dtype)`` in a buffer of its own, on a 2 MiB boundary when it spans huge pages.

    Transparent huge pages then back a large array where the OS offers them:
    first-touch page faults cost about a quarter of those of 4 KiB pages
    (measured for `moderate`: 87 vs 21 ns per sample).
    """
    nbytes = n * np.dtype(dtype).itemsize
    if nbytes < 2 * _HUGE_PAGE:
        # Aligning costs ~2.5 us an array (24 per `moderate` call: 3x a 256-id batch's time), and the
        # kernel needs no alignment: small arrays come straight from numpy.
        return np.empty(n, dtype=dtype)
    buf = np.empty(nbytes + _HUGE_PAGE, dtype=np.uint8)
    offset = -buf.__array_interface__["data"][0] % _HUGE_PAGE
    return buf[offset : offset + nbytes].view(dtype)


def _rebuild(config: AugmentationConfig, seed: int, compiled: bool) -> Generator:
    return Generator(config, seed=seed, compiled=compiled)
