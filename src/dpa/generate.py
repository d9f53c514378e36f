"""The seed document's generation functions: thin wrappers over :class:`dpa.Generator`.

Every output is a pure function of (seed, epoch, sample id, parameter name,
spec). Parameter ``name`` with spec ``S`` uses, for sample ``i`` in
``epoch``, the 64-bit words::

    word_j = xxh64_pair(i, (epoch << 32) | j, stream_key(seed, name)),   j < S.n_words

and ``S``'s program maps them to values (docs/SPEC.md). The functions here
keep the signatures users of the original documents know; each finds the
config's :class:`~dpa.Generator` for the seed (kept with the config itself,
a few seeds at most, so one sample costs no compile) and calls it.
"""

from __future__ import annotations

from typing import Any

from dpa.prng import compiled_kernel
from dpa.config import AugmentationConfig
from dpa.generator import BACKENDS, Generator, as_config
from dpa.ids import as_sample_ids
from dpa.keys import MAX_SAMPLE_ID, check_sample_id, check_seed

__all__ = ["gen_augmentation_params", "gen_augmentation_batch", "as_sample_ids", "BACKENDS", "generator_for"]

# Generators a config keeps (one per seed, for the kernel in use), and one-sample functions (per epoch too).
_SEEDS_KEPT = 8
_FUNCTIONS_KEPT = 16


def generator_for(config: Any, seed: Any) -> Generator:
    """The config's :class:`~dpa.Generator` for ``seed``, made once and kept with the config (a few seeds).

    Raises:
        TypeError, ValueError: a bad config or seed.
    """
    if not isinstance(config, AugmentationConfig):
        return Generator(as_config(config), seed=seed)
    if type(seed) is not int:
        seed = check_seed(seed)  # numpy integers pass, bools and floats raise
    kept = config.derived
    key = ("generator", seed, compiled_kernel())
    gen = kept.get(key)
    if gen is None:
        gen = Generator(config, seed=seed)
        generators = [k for k in kept if isinstance(k, tuple) and k[0] == "generator"]
        if len(generators) >= _SEEDS_KEPT:
            kept.pop(generators[0], None)
        kept[key] = gen
    return gen


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
    # The hot path (one sample at a time): the config keeps the function of each (seed, epoch, kernel)
    # it was asked for; ints only, as True == 1 and 1.0 == 1 would otherwise find an entry.
    if type(seed) is int and type(epoch) is int and type(config) is AugmentationConfig:
        one = config.derived.get((seed, epoch, compiled_kernel()))
        if one is not None:
            return one(sample_id)
    return _params(sample_id, config, seed, epoch)


def _params(sample_id: int, config: Any, seed: Any, epoch: Any) -> dict[str, Any]:
    gen = generator_for(config, seed)
    one = gen.sampler(epoch=epoch)  # checks the epoch
    if isinstance(config, AugmentationConfig):
        kept = config.derived
        functions = [k for k in kept if isinstance(k, tuple) and len(k) == 3 and k[0] != "generator"]
        if len(functions) >= _FUNCTIONS_KEPT:
            kept.pop(functions[0], None)
        kept[(gen.seed, epoch, compiled_kernel())] = one
    return one(sample_id)


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
            a device without ``backend="torch"``; CUDA asked for but absent.

    >>> import dpa
    >>> b = dpa.gen_augmentation_batch(range(4), dpa.get_preset("mild"), seed=1)
    >>> float(b["rotation"][2]) == dpa.gen_augmentation_params(2, dpa.get_preset("mild"), seed=1)["rotation"]
    True
    """
    return generator_for(config, seed).batch(sample_ids, epoch=epoch, backend=backend, device=device)
