"""Parameter generation: one sample (Python values) or many (arrays or tensors).

Every output is a pure function of (seed, epoch, sample id, parameter name,
spec). Parameter ``name`` with spec ``S`` uses, for sample ``i`` in
``epoch``, the 64-bit words::

    word_j = xxh64_pair(i, (epoch << 32) | j, stream_key(seed, name)),   j < S.n_words

and ``S`` maps them to values (docs/SPEC.md). The scalar path calls the
``xxhash`` binding directly; the batch path runs the same hash vectorised in
numpy (blocks of ids against all of the config's rows at once) or torch
(CPU or CUDA). All three agree bit for bit, for any batch split.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np
import xxhash

from dpa import _cplan, _ops, validate
from dpa._draws import NumpyDraws, scalar_draw
from dpa.config import AugmentationConfig
from dpa.keys import MAX_SAMPLE_ID, check_epoch, check_sample_id, check_seed, counter_word, stream_key
from dpa.prng import outer_row_constants, xxh64_outer
from dpa.specs import BernoulliSpec, UniformSpec, gate_threshold

__all__ = ["gen_augmentation_params", "gen_augmentation_batch", "as_sample_ids", "BACKENDS"]

BACKENDS = ("numpy", "torch")
_DTYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_}

# Ids per numpy block: rows x block words stay in L2 and a ufunc call covers
# enough elements to amortise its overhead (see benchmarks/test_bench_core.py).
_BLOCK_ELEMENTS = 1 << 18
# Ids per torch block, bounding the (rows, block) int64 temporaries.
_TORCH_BLOCK = 1 << 20


class _Entry:
    """One parameter of a plan: its spec, outputs, hash rows and gate."""

    __slots__ = ("spec", "names", "row0", "n_words", "key", "counter_bytes", "gate", "identities")

    def __init__(self, name: str, spec: Any, row0: int, seed: int, epoch: int, names: tuple[str, ...]) -> None:
        self.spec = spec
        self.names = names
        self.row0 = row0
        self.n_words = spec.n_words
        self.key = stream_key(seed, name)
        self.counter_bytes = tuple(counter_word(epoch, j).to_bytes(8, "little") for j in range(self.n_words))
        self.identities = spec.identity_values()
        self.gate = (spec.n_draws, gate_threshold(spec.p)) if spec.gated else None


class _Plan:
    """Everything about (config, seed, epoch) that does not depend on the sample id.

    With ``compiled`` (the default) and the C kernel available, the scalar and
    numpy paths run the fused C program; otherwise the Python and numpy code
    below, which gives the same bits.
    """

    def __init__(self, config: AugmentationConfig, seed: int, epoch: int, compiled: bool = True) -> None:
        self.config, self.seed, self.epoch = config, seed, epoch
        self.entries: list[_Entry] = []
        row = 0
        names_by_param: dict[str, list[str]] = {}
        for out in config.outputs:
            names_by_param.setdefault(out.param, []).append(out.name)
        keys, counters = [], []
        # Hash rows are laid out group by group (see _group): the values do not
        # depend on the layout, and a group's rows side by side let one numpy
        # call map all of them.
        specs = sorted(config.items(), key=lambda item: _group(item[1]))
        for name, spec in specs:
            entry = _Entry(name, spec, row, seed, epoch, tuple(names_by_param[name]))
            self.entries.append(entry)
            for j in range(entry.n_words):
                keys.append(entry.key)
                counters.append(counter_word(epoch, j))
            row += entry.n_words
        self.n_rows = row
        self.row_c, self.row_k2 = outer_row_constants(counters, keys)
        self._torch_rows: dict[str, Any] = {}
        self.output_names = config.output_names
        self.dtypes = {o.name: o.dtype for o in config.outputs}
        self._split_scalar_entries()
        self._layout_numpy()
        self._program = _cplan.compile_program(self.entries, self.row_c, self.row_k2, config.outputs) if compiled else None

    @property
    def compiled(self) -> bool:
        """True when this plan runs on the C kernel."""
        return self._program is not None

    def __reduce__(self) -> tuple:
        # Rebuilt where it is unpickled (a spawned DataLoader worker, say): the
        # compiled program is process memory, and the receiving process may
        # have no kernel at all. The values are the same either way.
        return (_Plan, (self.config, self.seed, self.epoch, self._program is not None))

    def _layout_numpy(self) -> None:
        """Constants of the numpy path's three simple groups (mapped row by row), and the other entries."""
        groups: dict[int, list[_Entry]] = {0: [], 1: [], 2: [], 3: []}
        for e in self.entries:
            groups[_group(e.spec)].append(e)
        # numpy scalars made once: building them costs as much as a small ufunc call.
        f64, u64 = np.float64, np.uint64
        self._uniform_rows = [(e.names[0], f64(e.spec._scale), f64(e.spec.low)) for e in groups[0]]
        self._gated_rows = [
            (e.names[0], f64(e.spec._scale), f64(e.spec.low), u64(e.gate[1]), f64(e.identities[0])) for e in groups[1]
        ]
        self._bernoulli_rows = [(e.names[0], u64(gate_threshold(e.spec.p))) for e in groups[2]]
        self._others = groups[3]

    def _split_scalar_entries(self) -> None:
        """Group the entries by the shape of their scalar code.

        The one-sample path is pure Python, where a call or a branch costs as
        much as a hash: the common kinds (ungated uniform, bernoulli, uniform
        gated in its own word) get a flat loop each, with their constants
        pre-computed; all others go through ``Spec.scalar_values``.
        """
        self._uniform, self._bernoulli, self._gated_uniform, self._generic = [], [], [], []
        for e in self.entries:
            spec, cb0, group = e.spec, e.counter_bytes[0], _group(e.spec)
            if group == 0:
                self._uniform.append((e.names[0], cb0, e.key, spec.low, spec._scale))
            elif group == 1:
                self._gated_uniform.append((e.names[0], cb0, e.key, spec.low, spec._scale, e.gate[1], e.identities[0]))
            elif group == 2:
                self._bernoulli.append((e.names[0], cb0, e.key, gate_threshold(spec.p)))
            else:
                self._generic.append(e)

    # -- scalar --------------------------------------------------------------
    def scalar(self, sample_id: int) -> dict[str, Any]:
        if self._program is not None:
            return self._program.one(sample_id)
        idb = sample_id.to_bytes(8, "little")
        digest = xxhash.xxh64_intdigest
        out: dict[str, Any] = dict.fromkeys(self.output_names)  # config order
        for name, cb, key, low, scale in self._uniform:
            out[name] = low + (digest(idb + cb, key) >> 32) * scale
        for name, cb, key, threshold in self._bernoulli:
            out[name] = (digest(idb + cb, key) >> 32) < threshold
        for name, cb, key, low, scale, threshold, identity in self._gated_uniform:
            w = digest(idb + cb, key)
            out[name] = low + (w >> 32) * scale if (w & 0xFFFFFFFF) < threshold else identity
        for e in self._generic:
            key = e.key
            words = [digest(idb + cb, key) for cb in e.counter_bytes]
            values = e.spec.scalar_values(words)
            if e.gate is not None and scalar_draw(words, e.gate[0]) >= e.gate[1]:
                values = e.identities
            for name, value in zip(e.names, values):
                out[name] = value
        return out

    # -- numpy ---------------------------------------------------------------
    def numpy(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        n = ids.shape[0]
        outs = self._output_arrays(n)
        if self._program is not None:
            self._program.fill(np.ascontiguousarray(ids), tuple(outs.values()))
            return outs
        block = max(256, _BLOCK_ELEMENTS // self.n_rows)
        m = min(block, n)
        if m == 0:
            return outs
        words = np.empty((self.n_rows, m), dtype=np.uint64)
        tmp = np.empty((self.n_rows, m), dtype=np.uint64)
        # The three simple groups' hash rows come first (see _group), mapped
        # row by row straight into each output: every output is its own array.
        n_u, n_g = len(self._uniform_rows), len(self._gated_rows)
        u_rows = [(outs[name], *c) for name, *c in self._uniform_rows]
        g_rows = [(outs[name], *c) for name, *c in self._gated_rows]
        b_rows = [(outs[name], *c) for name, *c in self._bernoulli_rows]
        for start in range(0, n, block):
            stop = min(start + block, n)
            k = stop - start
            w = words[:, :k]
            xxh64_outer(ids[start:stop], self.row_c, self.row_k2, w, tmp[:, :k])
            hi, lo = _halves(w)
            for r, (out, sc, lo_) in enumerate(u_rows):  # ungated uniforms: low + hi * scale
                dst = out[start:stop]
                np.multiply(hi[r], sc, out=dst)
                np.add(dst, lo_, out=dst)
            for r, (out, sc, lo_, t, ident) in enumerate(g_rows, n_u):  # uniforms gated by their word's low half
                dst = out[start:stop]
                np.multiply(hi[r], sc, out=dst)
                np.add(dst, lo_, out=dst)
                np.copyto(dst, ident, where=lo[r] >= t)
            for r, (out, t) in enumerate(b_rows, n_u + n_g):  # bernoulli: hi < threshold
                np.less(hi[r], t, out=out[start:stop])
            for e in self._others:
                draws = NumpyDraws(w[e.row0 : e.row0 + e.n_words])
                values = e.spec.array_values(draws, _ops.NP)
                if e.gate is not None:
                    closed = ~draws.below(*e.gate)
                    for v, ident in zip(values, e.identities):
                        v[closed] = ident
                for name, v in zip(e.names, values):
                    outs[name][start:stop] = v
        return outs

    def _output_arrays(self, n: int) -> dict[str, np.ndarray]:
        """One allocation per output, in config order: keeping one array keeps only its own memory.

        Each large array starts on a 2 MiB boundary of its own buffer, so that
        it is backed by transparent huge pages where the OS offers them:
        first-touch page faults then cost about a quarter of those of 4 KiB
        pages (measured for `moderate`: 87 vs 21 ns per sample).
        """
        return {name: _aligned_empty(n, _DTYPES[self.dtypes[name]]) for name in self.output_names}

    # -- torch ---------------------------------------------------------------
    def torch(self, ids: Any) -> dict[str, Any]:
        import torch

        from dpa import _gpu
        from dpa._draws import TorchDraws
        from dpa._prng_torch import to_signed, xxh64_rows_torch

        if _gpu.triton_enabled(ids):  # one fused Triton launch; None for a kind it does not know
            fused = _gpu.fused_batch(self, ids)
            if fused is not None:
                return fused
        device = ids.device
        rows = self._torch_rows.get(str(device))
        if rows is None:
            c = torch.tensor([to_signed(int(x)) for x in self.row_c.ravel()], dtype=torch.int64, device=device)
            k2 = torch.tensor([to_signed(int(x)) for x in self.row_k2.ravel()], dtype=torch.int64, device=device)
            rows = (c.view(-1, 1), k2.view(-1, 1))
            self._torch_rows[str(device)] = rows
        dtypes = {"float": torch.float64, "int": torch.int64, "bool": torch.bool}
        n = ids.shape[0]
        outs = {o.name: torch.empty(n, dtype=dtypes[o.dtype], device=device) for o in self.config.outputs}
        ops = _ops.TorchOps()
        for start in range(0, n, _TORCH_BLOCK):
            stop = min(start + _TORCH_BLOCK, n)
            words = xxh64_rows_torch(ids[start:stop], *rows)
            for e in self.entries:
                draws = TorchDraws(words[e.row0 : e.row0 + e.n_words])
                values = e.spec.array_values(draws, ops)
                if e.gate is not None:
                    open_ = draws.below(*e.gate)
                    values = [torch.where(open_, v, ident) for v, ident in zip(values, e.identities)]
                for name, v in zip(e.names, values):
                    outs[name][start:stop] = v
        return outs


def _group(spec: Any) -> int:
    """0: uniform, 1: uniform gated in its own word, 2: bernoulli, 3: anything else."""
    if type(spec) is UniformSpec:
        return 1 if spec.gated else 0
    return 2 if type(spec) is BernoulliSpec else 3


def _halves(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """High and low 32-bit halves of a 2-D uint64 block (views on little-endian machines)."""
    if sys.byteorder == "little":
        halves = words.view(np.uint32)
        return halves[:, 1::2], halves[:, 0::2]
    return (words >> np.uint64(32)).astype(np.uint32), (words & np.uint64(0xFFFFFFFF)).astype(np.uint32)  # pragma: no cover


# 2 MiB: the transparent huge page size on x86-64 and arm64 Linux.
_HUGE_PAGE = 1 << 21


def _aligned_empty(n: int, dtype: Any) -> np.ndarray:
    """``np.empty(n, dtype)`` in a buffer of its own, starting on a 2 MiB boundary when it spans huge pages."""
    nbytes = n * np.dtype(dtype).itemsize
    if nbytes < 2 * _HUGE_PAGE:
        return np.empty(n, dtype=dtype)
    buf = np.empty(nbytes + _HUGE_PAGE, dtype=np.uint8)
    offset = -buf.ctypes.data % _HUGE_PAGE
    return buf[offset : offset + nbytes].view(dtype)


# Plans of recent (config, seed, epoch), keyed on the config's content *and*
# its parameter order: equal configs in another order give their outputs in
# their own order (AugmentationConfig.__eq__ and the fingerprint ignore order).
_PLAN_CACHE: "OrderedDict[tuple, _Plan]" = OrderedDict()
_PLAN_CACHE_SIZE = 256
_PLAN_LOCK = threading.Lock()


def _cached_plan(config: AugmentationConfig, seed: int, epoch: int) -> _Plan:
    key = (config.fingerprint(), config.output_names, seed, epoch)
    with _PLAN_LOCK:
        plan = _PLAN_CACHE.get(key)
        if plan is not None:
            _PLAN_CACHE.move_to_end(key)
            return plan
    plan = _Plan(config, seed, epoch)
    with _PLAN_LOCK:
        _PLAN_CACHE[key] = plan
        while len(_PLAN_CACHE) > _PLAN_CACHE_SIZE:
            _PLAN_CACHE.popitem(last=False)
    return plan


# The plan of the last call, matched by identity: one sample at a time, the
# cache's key (the config's fingerprint and output order) would cost as much
# as generating the sample.
_last_plan: tuple = (None, None, None, None)


def _clear_plans() -> None:
    """Forget every cached plan (tests switch kernels with it)."""
    global _last_plan
    _last_plan = (None, None, None, None)
    with _PLAN_LOCK:
        _PLAN_CACHE.clear()


def _plan(config: Any, seed: Any, epoch: Any) -> _Plan:
    global _last_plan
    last = _last_plan
    if config is last[0] and type(seed) is int and type(epoch) is int and seed == last[1] and epoch == last[2]:
        return last[3]
    if not isinstance(config, AugmentationConfig):
        if isinstance(config, Mapping):
            config = AugmentationConfig(config)
        else:
            raise TypeError(
                f"config must be an AugmentationConfig (e.g. dpa.get_preset('moderate')) or a dict of specs; "
                f"got {type(config).__name__}"
            )
    plan = _cached_plan(config, check_seed(seed), check_epoch(epoch))
    _last_plan = (config, seed, epoch, plan)
    return plan


def gen_augmentation_params(sample_id: int, config: AugmentationConfig, seed: int = 0, epoch: int = 0) -> dict[str, Any]:
    """The augmentation parameters of one sample, as plain Python values.

    Args:
        sample_id: the sample's id, an int in ``[0, 2**64)`` (a dataset index,
            or :func:`dpa.sample_id_from_key` of a file path).
        config: an :class:`AugmentationConfig` (or a dict of specs).
        seed: the run's seed, in ``[0, 2**64)``.
        epoch: the epoch, in ``[0, 2**32)``.

    Returns:
        ``{output name: value}``: float, int or bool per output, in config order.

    Raises:
        TypeError: ``sample_id``, ``seed`` or ``epoch`` is not an int (floats
            and bools are refused), or ``config`` is not a config.
        ValueError: any of them is outside its range.

    >>> import dpa
    >>> p = dpa.gen_augmentation_params(7, dpa.get_preset("mild"), seed=1)
    >>> p == dpa.gen_augmentation_params(7, dpa.get_preset("mild"), seed=1)
    True
    >>> sorted(p)[:3]
    ['brightness', 'contrast', 'crop_h']
    """
    if type(sample_id) is not int or not 0 <= sample_id <= MAX_SAMPLE_ID:
        sample_id = check_sample_id(sample_id)  # converts numpy integers, raises on the rest
    return _plan(config, seed, epoch).scalar(sample_id)


def as_sample_ids(sample_ids: Any, name: str = "sample_ids") -> np.ndarray:
    """Convert ids (list, tuple, range, numpy array, torch tensor) to a 1-D uint64 array, checking the domain.

    Raises:
        TypeError: not a sequence of integers (floats, bools and strings are refused).
        ValueError: an id outside ``[0, 2**64)`` (the message gives its index), or not 1-D.
    """
    return validate.sample_ids(sample_ids, name)


def _torch_ids(sample_ids: Any, device: Any) -> Any:
    import torch

    if isinstance(sample_ids, torch.Tensor) and sample_ids.dtype == torch.int64:
        if sample_ids.ndim != 1:
            raise ValueError(f"sample_ids must be 1-D; got shape {tuple(sample_ids.shape)}")
        if sample_ids.numel() and bool((sample_ids < 0).any()):
            i = int(torch.nonzero(sample_ids < 0)[0])
            raise ValueError(f"sample_ids[{i}] must be in [0, 2**64); got {int(sample_ids[i])}")
        return sample_ids.to(device)
    ids = as_sample_ids(sample_ids)
    # The tensor holds the ids' 64 bits; ids >= 2**63 read as negative int64.
    return torch.from_numpy(ids.view(np.int64)).to(device)


def gen_augmentation_batch(
    sample_ids: Any,
    config: AugmentationConfig,
    seed: int = 0,
    epoch: int = 0,
    backend: str = "numpy",
    device: Any = None,
) -> dict[str, Any]:
    """The parameters of many samples at once, as a structure of arrays.

    Args:
        sample_ids: ids in ``[0, 2**64)``: a list, tuple, range, numpy
            integer array or torch integer tensor (1-D).
        config: an :class:`AugmentationConfig` (or a dict of specs).
        seed: the run's seed, in ``[0, 2**64)``.
        epoch: the epoch, in ``[0, 2**32)``.
        backend: ``"numpy"`` (arrays) or ``"torch"`` (tensors).
        device: torch device for ``backend="torch"`` (default CPU). On a GPU
            the values are computed there by torch kernels; on the CPU by the
            numpy kernels (faster, same bits), returned as tensors.

    Returns:
        ``{output name: 1-D array}`` in config order; float64, int64 or bool.
        Element ``k`` equals ``gen_augmentation_params(sample_ids[k], ...)``
        exactly, whatever the backend, device or batch size.

    Raises:
        TypeError: ids that are not integers, a config that is not one.
        ValueError: an id, seed or epoch out of range; an unknown backend;
            a device without ``backend="torch"``; a device other than the
            CPU or CUDA (``"meta"`` tensors hold no data); CUDA asked for but absent.

    >>> import dpa
    >>> b = dpa.gen_augmentation_batch(range(4), dpa.get_preset("mild"), seed=1)
    >>> float(b["rotation"][2]) == dpa.gen_augmentation_params(2, dpa.get_preset("mild"), seed=1)["rotation"]
    True
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; got {backend!r}")
    plan = _plan(config, seed, epoch)
    if backend == "numpy":
        if device is not None:
            raise ValueError(f"device={device!r} needs backend='torch'; the numpy backend runs on the CPU")
        return plan.numpy(as_sample_ids(sample_ids))
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError("backend='torch' needs PyTorch: pip install 'dpa[torch]'") from None
    dev = validate.torch_device(device)
    if dev.type == "cpu":
        # On the CPU the compiled and numpy kernels are far faster than
        # torch's (measured for `moderate` on one core: 22-26 M samples/s
        # compiled, 6.5 M numpy, 0.53 M torch) and give the same bits; the
        # tensors share the arrays' memory.
        import torch

        return {k: torch.from_numpy(v) for k, v in plan.numpy(as_sample_ids(_ids_for_numpy(sample_ids))).items()}
    return plan.torch(_torch_ids(sample_ids, dev))


def _ids_for_numpy(sample_ids: Any) -> Any:
    """int64 tensors hold ids' bits (ids >= 2**63 read as negative), so check them as the torch path does."""
    import torch

    if isinstance(sample_ids, torch.Tensor) and sample_ids.dtype == torch.int64:
        return _torch_ids(sample_ids, torch.device("cpu")).numpy()
    return sample_ids
