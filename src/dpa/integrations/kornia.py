"""Make a kornia augmentation pipeline deterministic: every sample's parameters a pure function of (seed, epoch, id).

kornia draws its parameters from torch's global RNG, by position in the batch,
so a sample's augmentation depends on the batch it lands in, the worker that
built it and everything drawn before (kornia#4427). :func:`deterministic`
wraps an ``AugmentationSequential``, an ``ImageSequential`` or a single
augmentation module; the wrapper computes every sample's parameters with dpa
from the sample's id and the epoch and runs kornia's own code on them
(``forward(x, params=...)``), so a sample's output does not depend on the
batch's composition, order or size, on the global RNG, or on the device.

>>> import torch, kornia.augmentation as K
>>> from dpa.integrations.kornia import deterministic
>>> aug = K.AugmentationSequential(K.RandomHorizontalFlip(), K.RandomAffine(degrees=10, p=1.0))
>>> dk = deterministic(aug, seed=0)
>>> x = torch.rand(4, 3, 16, 16)
>>> torch.allclose(dk(x, sample_ids=[0, 1, 2, 3], epoch=1)[2:3], dk(x[2:3], sample_ids=[2], epoch=1), atol=1e-6)
True
>>> sorted(dk.config)
['RandomAffine.apply', 'RandomAffine.degrees', 'RandomHorizontalFlip.apply']

Conventions (docs/INTEGRATIONS.md): parameter names are ``<prefix>.<field>``
(the prefix is the class name, ``<Class>_<k>`` for its k-th occurrence, or a
name given in ``names=``); each random transform has an ``apply`` Bernoulli
with its ``p``; ranges are the transform's own hyperparameters.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from dpa import sample_id_from_key
from dpa.config import AugmentationConfig
from dpa.generate import as_sample_ids, gen_augmentation_batch
from dpa.integrations._adapt import NoiseSeeds, add_fields, check_names_used, specs_of
from dpa.integrations._common import ParamNamer, UnsupportedTransformError
from dpa.integrations._version import UnsupportedVersionError, require_version
from dpa.keys import check_epoch, check_seed
from dpa.specs import BernoulliSpec

__all__ = ["deterministic", "DeterministicKornia", "SUPPORTED_VERSIONS", "UnsupportedTransformError", "UnsupportedVersionError"]

SUPPORTED_VERSIONS = (">=0.9", "<0.10")  # tested with kornia 0.9.0

# Modules outside kornia.augmentation that are plain functions of their input
# (filters, colour conversions, enhancements, fixed warps) pass through.
_DETERMINISTIC_MODULES = ("kornia.filters", "kornia.color", "kornia.enhance", "kornia.geometry")


@dataclass
class _Leaf:
    name: str  # the child's name in its container (kornia's ParamItem name)
    module: Any  # dpa's copy of the module
    handler: Any
    prefix: str | None  # None: deterministic, passed through
    outputs: dict[str, str] = field(default_factory=dict)  # field -> flat config output name
    gated: bool = False  # p < 1: a size-changing transform cannot be gated per sample
    noise_seed: int = 0  # of its noise field, for a Gaussian-noise transform


@dataclass
class _Seq:
    name: str
    module: Any
    children: list[Any]


@dataclass
class _Plain:
    name: str
    module: Any


def deterministic(aug: Any, *, seed: int, names: Mapping[Any, str] | None = None) -> "DeterministicKornia":
    """Wrap a kornia pipeline so that each sample's augmentation is a pure function of (seed, epoch, sample id).

    Args:
        aug: a ``kornia.augmentation.AugmentationSequential``, an
            ``ImageSequential`` or a single augmentation module (nested
            sequences are walked). dpa works on a copy taken now: later
            changes to ``aug`` do not reach the wrapper.
        seed: the run's seed, in ``[0, 2**64)``.
        names: optional prefixes for the config's parameter names, keyed by
            transform object or by default prefix (``{"RandomAffine_2": "rot2"}``).

    Returns:
        A :class:`DeterministicKornia`, called as ``dk(batch, sample_ids=..., epoch=...)``.

    Raises:
        UnsupportedTransformError: a random transform dpa cannot drive (an
            unsupported class, a subclass, ``same_on_batch=True``, a
            container with ``random_apply``, or a module that is not kornia's);
            the message names it.
        UnsupportedVersionError: kornia is not installed at a tested version.
        TypeError / ValueError: a bad ``seed`` or ``names``, or the same
            module object twice in the pipeline.

    Example:
        >>> import kornia.augmentation as K
        >>> dk = deterministic(K.RandomRotation(degrees=30.0, p=0.5), seed=1)
        >>> dk.config["RandomRotation.degrees"].to_dict()
        {'kind': 'uniform', 'low': -30.0, 'high': 30.0, 'p': 1.0}
    """
    require_version("kornia", "0.9", "0.10", tested="0.9.0", module="kornia")
    import torch

    seed = check_seed(seed)
    if not isinstance(aug, torch.nn.Module):
        raise TypeError(f"aug must be a kornia augmentation module or sequence; got {type(aug).__name__}")
    memo: dict[int, Any] = {}
    clone = copy.deepcopy(aug, memo)
    namer = ParamNamer(names)
    specs: dict[str, Any] = {}
    seeds = NoiseSeeds(seed)
    root = _walk(aug, "", lambda m: memo[id(m)], namer, specs, seeds, set())
    if isinstance(root, _Plain):
        raise TypeError(
            f"aug must be a kornia augmentation or an AugmentationSequential / ImageSequential; got "
            f"{type(aug).__name__}, which has no parameters to draw (call it directly)"
        )
    check_names_used(namer)
    config = AugmentationConfig(specs) if specs else None
    return DeterministicKornia(clone, root, config, seed, seeds)


def _walk(
    module: Any, name: str, copy_of: Any, namer: ParamNamer, specs: dict[str, Any], seeds: NoiseSeeds, seen: set[int]
) -> Any:
    """The node of ``module`` (pointing at dpa's copy), its specs added to ``specs``; ``seen``: the random leaves so far."""
    import kornia.augmentation as K

    from dpa.integrations._kornia_ops import DETERMINISTIC, TABLE

    if isinstance(module, K.container.ImageSequentialBase):
        if type(module) not in (K.AugmentationSequential, K.ImageSequential):
            TABLE.refuse(module, "dpa walks AugmentationSequential and ImageSequential containers only")
        if module.random_apply is not False:
            TABLE.refuse(module, f"random_apply={module.random_apply!r} draws one sequence of transforms per batch")
        here: set[int] = set()
        for kid in (m for m in module._modules.values() if m is not None):
            if id(kid) in here:  # named_children() below, like kornia's forward, would skip it silently
                _refuse_repeat(kid, "kornia runs a repeat within one sequence only once")
            here.add(id(kid))
        children = [_walk(child, n, copy_of, namer, specs, seeds, seen) for n, child in module.named_children()]
        return _Seq(name, copy_of(module), children)
    if isinstance(module, K.MixAugmentationBaseV2):
        TABLE.refuse(module, "it mixes the samples of a batch, so a sample's result depends on the others")
    handler = TABLE.handler_for(module)
    if handler is None:
        if isinstance(module, (K.AugmentationBase2D, K.AugmentationBase3D)) or not _is_plain(module):
            TABLE.refuse(module)
        return _Plain(name, copy_of(module))
    cls = type(module).__name__
    p = float(module.p) * float(module.p_batch)
    if cls in DETERMINISTIC and p == 1.0:
        return _Leaf(name, copy_of(module), handler, None)
    if module.same_on_batch and cls not in DETERMINISTIC:
        TABLE.refuse(module, "same_on_batch=True shares one draw across the batch")
    if id(module) in seen:
        _refuse_repeat(module, "one name would give both places the same values, where kornia draws each afresh")
    seen.add(id(module))
    prefix = namer.prefix(module)
    leaf = _Leaf(name, copy_of(module), handler, prefix, gated=p < 1.0)
    fields = specs_of(module, lambda: {**handler.fields(module), "apply": BernoulliSpec(p=p)})
    leaf.outputs = add_fields(prefix, fields, specs)
    if handler.noisy:
        leaf.noise_seed = seeds.add(prefix)
    handler.prepare(leaf.module)
    return leaf


def _refuse_repeat(module: Any, why: str) -> None:
    raise ValueError(
        f"the same {type(module).__name__} object appears twice in the pipeline: {why}. Use two instances "
        f"(copy.deepcopy(t)) to draw them independently."
    )


def _is_plain(module: Any) -> bool:
    """A module that is a plain function of its input: kornia's filters/colour/enhance/geometry, or an Identity."""
    import torch

    mod = type(module).__module__
    return type(module) is torch.nn.Identity or any(mod == m or mod.startswith(m + ".") for m in _DETERMINISTIC_MODULES)


class DeterministicKornia:
    """A kornia pipeline whose every sample's parameters come from dpa (made by :func:`deterministic`).

    Attributes:
        config: the derived :class:`~dpa.AugmentationConfig` (``None`` when the
            pipeline has no random transform); ``config.fingerprint()``,
            ``dpa inspect`` and ``assert_consistent_across_ranks`` work on it.
        seed: the seed given to :func:`deterministic`.
        module: dpa's copy of the pipeline (what runs).
    """

    def __init__(self, module: Any, root: Any, config: AugmentationConfig | None, seed: int, seeds: NoiseSeeds) -> None:
        self.module = module
        self.config = config
        self.seed = seed
        self._root = root
        self._noise_seeds = seeds

    def __repr__(self) -> str:
        names = list(self.config) if self.config is not None else []
        return f"DeterministicKornia(seed={self.seed}, params={names}, module={type(self.module).__name__})"

    def noise_seed(self, prefix: str) -> int:
        """The seed of the noise field of the transform named ``prefix`` (``"RandomGaussianNoise"``).

        Its noise is ``mean + std * dpa.apply.noise_field(shape, sample_ids, seed=dk.noise_seed(prefix),
        epoch=epoch)``. The pipeline's first noise transform uses ``dk.seed`` itself (the field
        ``dpa.apply.gaussian_noise`` makes); a later one ``dpa.keys.stream_key(seed, prefix + ".noise")``.

        Raises:
            KeyError: no Gaussian-noise transform has that name.
        """
        return self._noise_seeds(prefix)

    def params(self, sample_ids: Any, epoch: int) -> dict[str, Any]:
        """dpa's values for these samples: ``{config output name: (B,) tensor}`` (what drives kornia)."""
        import torch

        if self.config is None:
            return {}
        values = gen_augmentation_batch(_ids(sample_ids), self.config, seed=self.seed, epoch=check_epoch(epoch))
        return {k: torch.from_numpy(v) for k, v in values.items()}

    def kornia_params(self, shape: Any, sample_ids: Any, epoch: int, dtype: Any = None, device: Any = None) -> Any:
        """The ``params`` dpa hands to kornia for a batch of ``shape`` (what ``__call__`` passes to ``forward``).

        Args:
            shape: the image batch's shape ``(B, C, H, W)``.
            sample_ids: ``B`` ids; epoch: the epoch.
            dtype: of the float params (default float32); device: of the noise field (default CPU).

        Returns:
            A list of ``kornia.augmentation.container.ParamItem`` for a sequence,
            a dict for a single module; pixel boxes and sizes as kornia's own
            parameter generators give them, with a ``(B, 4)`` ColorJitter ``order``
            (one order per sample).
        """
        import torch

        shape = tuple(int(s) for s in shape)
        if len(shape) != 4:
            raise ValueError(f"shape must be (B, C, H, W); got {shape}")
        ids = _ids(sample_ids)
        if ids.shape[0] != shape[0]:
            raise ValueError(f"sample_ids must have one id per image ({shape[0]}); got {ids.shape[0]}")
        run = _Run(
            values=self.params(ids, epoch),
            dtype=dtype if dtype is not None else torch.float32,
            device=torch.device(device) if device is not None else torch.device("cpu"),
            ids=ids,
            seed=self.seed,
            epoch=check_epoch(epoch),
        )
        return run.build(self._root, shape)[0]

    def __call__(self, *inputs: Any, sample_ids: Any, epoch: int, **kwargs: Any) -> Any:
        """Augment a batch; sample ``k``'s parameters depend only on (seed, epoch, ``sample_ids[k]``).

        Args:
            *inputs: what the wrapped module takes: an image batch ``(B, C, H, W)``
                (or one ``(C, H, W)`` image), followed by masks, boxes,
                keypoints as the ``AugmentationSequential``'s ``data_keys`` say,
                or one dict of them.
            sample_ids: one id per image, in ``[0, 2**64)`` (an int for one image),
                or string keys (file paths), mapped by :func:`dpa.sample_id_from_key`.
            epoch: the epoch, in ``[0, 2**32)``.
            **kwargs: passed to the module (``data_keys=...``).

        Returns:
            What the wrapped module returns.

        Raises:
            ValueError: ``sample_ids`` not one per image, an id or epoch out of
                range, or ``p < 1`` on a transform that changes the image size
                (kornia cannot mix resized and unresized samples in a batch).
            TypeError: no image tensor among the inputs.
        """
        import torch

        image = _image_of(inputs)
        if image.ndim not in (2, 3, 4):
            raise ValueError(f"the image must be (B, C, H, W), (C, H, W) or (H, W); got shape {tuple(image.shape)}")
        shape = tuple(image.shape) if image.ndim == 4 else (1,) * (4 - image.ndim) + tuple(image.shape)
        if isinstance(sample_ids, (int, np.integer)) and not isinstance(sample_ids, bool) and image.ndim < 4:
            sample_ids = [int(sample_ids)]
        dtype = torch.float64 if image.dtype == torch.float64 else torch.float32
        params = self.kornia_params(shape, sample_ids, epoch, dtype=dtype, device=image.device)
        return self.module(*inputs, params=params, **kwargs)


def _ids(sample_ids: Any) -> np.ndarray:
    """The batch's ids; string keys (file paths, as a DataLoader collates them) become :func:`dpa.sample_id_from_key`'s."""
    if isinstance(sample_ids, str):
        sample_ids = [sample_ids]
    if isinstance(sample_ids, (list, tuple)) and sample_ids and all(isinstance(s, str) for s in sample_ids):
        sample_ids = [sample_id_from_key(s) for s in sample_ids]
    return as_sample_ids(sample_ids)


def _image_of(inputs: tuple) -> Any:
    import torch

    if len(inputs) == 1 and isinstance(inputs[0], Mapping):
        for key, value in inputs[0].items():
            k = str(key).lower()
            if k in ("input", "image") or k.startswith(("input_", "input-", "image_", "image-")):
                inputs = (value,)
                break
        else:
            raise TypeError(f"the input dict has no 'image' (or 'input') key; got keys {list(inputs[0])}")
    if not inputs or not isinstance(inputs[0], torch.Tensor):
        got = type(inputs[0]).__name__ if inputs else "nothing"
        raise TypeError(f"the first input must be an image tensor (B, C, H, W); got {got}")
    return inputs[0]


@dataclass
class _Run:
    """One call's state: dpa's values for the batch, and where kornia's params must go."""

    values: dict[str, Any]
    dtype: Any
    device: Any
    ids: np.ndarray
    seed: int
    epoch: int

    def build(self, node: Any, shape: tuple) -> tuple[Any, tuple]:
        """kornia's params for ``node`` (a ParamItem list for a sequence, a dict for a module), and the output shape."""
        import torch
        from kornia.augmentation.container.params import ParamItem

        from dpa.integrations._kornia_ops import Ctx

        if isinstance(node, _Seq):
            items = []
            for child in node.children:
                data, shape = self.build(child, shape)
                items.append(ParamItem(child.name, data))
            return items, shape
        if isinstance(node, _Plain):
            return None, shape
        vals = {f: self.values[out] for f, out in node.outputs.items()}
        n = shape[0]
        in_shape = node.handler.input_shape(node.module, shape)
        ctx = Ctx(vals, tuple(shape), self.dtype, self.device, self.ids, node.noise_seed, self.epoch)
        params = dict(node.handler.params(node.module, ctx))
        apply = vals["apply"] if "apply" in vals else torch.ones(n, dtype=torch.bool)
        params["batch_prob"] = apply.to(self.dtype)
        params["forward_input_shape"] = torch.tensor(in_shape, dtype=torch.long)
        out_shape = tuple(shape)
        if "output_size" in params and n:
            out_shape = (shape[0], shape[1], *(int(s) for s in params["output_size"][0]))
            if node.gated and out_shape[2:] != tuple(shape[2:]):
                raise ValueError(
                    f"{type(node.module).__name__} {node.prefix!r} has p < 1 and changes the image size from "
                    f"{tuple(shape[2:])} to {out_shape[2:]}: kornia cannot keep some samples at the old size in a "
                    f"batch. Use p=1.0, or an output size equal to the input size."
                )
        return params, out_shape
