"""Make an albumentations pipeline deterministic: every sample's augmentation a pure function of (seed, epoch, id).

albumentations draws from per-transform ``random.Random`` / numpy generators
(seeded once, then shared by whatever calls them next), so an image's
augmentation depends on the worker, the order of calls and restarts
(albumentations#2473, #2559). :func:`deterministic` wraps a ``Compose`` (or
one transform); the wrapper computes each sample's parameters with dpa from
its id and the epoch and runs albumentations' own code on them
(``apply_with_params``), walking ``Compose``, ``OneOf``, ``SomeOf``,
``RandomOrder``, ``Sequential`` and ``OneOrOther`` itself.

Supported: albumentations 2.0.8 (>=2.0.8,<2.0.9; MIT licence; its last
release), whose parameter formats dpa reproduces exactly; other versions are
refused. Its successor AlbumentationsX (2.0.9 onwards) is AGPL-3.0 or
commercial: dpa (MIT) does not support it, so that using dpa never ties a
project to its licence.

>>> import numpy as np, albumentations as A
>>> from dpa.integrations.albumentations import deterministic
>>> da = deterministic(A.Compose([A.HorizontalFlip(p=0.5), A.Affine(rotate=(-10, 10), p=1.0)]), seed=0)
>>> image = np.zeros((16, 16, 3), dtype=np.uint8)
>>> out = da(image=image, sample_id=7, epoch=0)
>>> np.array_equal(out["image"], da(image=image, sample_id=7, epoch=0)["image"])
True
>>> sorted(da.config)  # doctest: +NORMALIZE_WHITESPACE
['Affine.apply', 'Affine.rotate', 'Affine.scale_x', 'Affine.scale_y', 'Affine.shear_x', 'Affine.shear_y',
 'Affine.translate_x', 'Affine.translate_y', 'HorizontalFlip.apply']
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from dpa import sample_id_from_key
from dpa.composite import PermutationSpec
from dpa.config import AugmentationConfig
from dpa.generate import gen_augmentation_params
from dpa.integrations._adapt import NoiseSeeds, add_fields, check_names_used, specs_of
from dpa.integrations._common import ParamNamer, UnsupportedTransformError
from dpa.integrations._version import UnsupportedVersionError, require_version
from dpa.keys import check_epoch, check_sample_id, check_seed
from dpa.specs import BernoulliSpec, ChoiceSpec, IntegerSpec

__all__ = ["deterministic", "DeterministicAlbumentations", "SUPPORTED_VERSIONS", "UnsupportedTransformError", "UnsupportedVersionError"]

SUPPORTED_VERSIONS = (">=2.0.8", "<2.0.9")  # tested with albumentations 2.0.8, its last (MIT) release
_LICENCE_NOTE = (
    "AlbumentationsX, albumentations' successor, is AGPL-3.0 or commercial and is not supported; "
    "install the MIT-licensed albumentations 2.0.8 (its last release; every later version is AlbumentationsX)."
)


@dataclass
class _Node:
    kind: str  # "leaf", "compose", "oneof", "someof", "sequential", "oneorother"
    t: Any  # dpa's copy
    prefix: str | None = None
    handler: Any = None
    children: list["_Node"] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # field -> flat config output name
    noise_seed: int = 0  # of its noise field, for a Gaussian-noise transform


def deterministic(compose: Any, *, seed: int, names: Mapping[Any, str] | None = None) -> "DeterministicAlbumentations":
    """Wrap an albumentations pipeline so that each sample's augmentation is a pure function of (seed, epoch, id).

    Args:
        compose: an ``albumentations.Compose`` (with its ``bbox_params``,
            ``keypoint_params``, ``additional_targets``), or one transform.
            dpa works on a copy taken now.
        seed: the run's seed, in ``[0, 2**64)``.
        names: optional prefixes for the config's parameter names, keyed by
            transform object or default prefix (``{"Affine_2": "small_affine"}``).

    Returns:
        A :class:`DeterministicAlbumentations`, called as ``da(sample_id=..., epoch=..., image=..., ...)``.

    Raises:
        UnsupportedTransformError: a random transform or container dpa cannot
            drive (its class is named), or a supported one with an option that
            draws more than dpa reproduces.
        UnsupportedVersionError: albumentations outside >=2.0.8,<2.0.9, or AlbumentationsX.
        TypeError / ValueError: a bad ``seed`` or ``names``.

    Example:
        >>> import albumentations as A
        >>> da = deterministic(A.Compose([A.RandomBrightnessContrast(p=0.3)]), seed=1)
        >>> da.config["RandomBrightnessContrast.brightness"].to_dict()
        {'kind': 'uniform', 'low': -0.2, 'high': 0.2, 'p': 1.0}
    """
    _check_versions()
    import albumentations as A

    seed = check_seed(seed)
    if not isinstance(compose, (A.BaseCompose, A.BasicTransform)):
        raise TypeError(f"compose must be an albumentations Compose or transform; got {type(compose).__name__}")
    memo: dict[int, Any] = {}
    clone = copy.deepcopy(compose, memo)
    # dpa's copy has no RNG left: any draw dpa did not replace raises instead of being silently random.
    clone.set_random_state(_NoRandom("numpy"), _NoRandom("random"))
    namer = ParamNamer(names)
    specs: dict[str, Any] = {}
    seeds = NoiseSeeds(seed)
    root = _walk(compose, lambda t: memo[id(t)], namer, specs, seeds, forced=False, seen=set())
    check_names_used(namer)
    return DeterministicAlbumentations(root, AugmentationConfig(specs) if specs else None, seed, seeds)


def _keyed(sample_id: Any) -> Any:
    """A string key (a file path) becomes its id; anything else is checked by dpa as it is."""
    return sample_id_from_key(sample_id) if isinstance(sample_id, str) else sample_id


def _check_versions() -> None:
    from importlib import metadata

    try:
        fork = metadata.version("albumentationsx")
    except metadata.PackageNotFoundError:
        fork = None
    if fork is not None:
        raise UnsupportedVersionError(f"found AlbumentationsX {fork}. {_LICENCE_NOTE}")
    # 2.0.8 is albumentations' last release: a later module version is AlbumentationsX's code installed over
    # albumentations' files (its own metadata then may be absent), so the range ends there.
    require_version("albumentations", "2.0.8", "2.0.9", tested="2.0.8", note=_LICENCE_NOTE, module="albumentations")


def _refuse(t: Any, why: str = "") -> None:
    from dpa.integrations._albumentations_ops import TABLE

    TABLE.refuse(t, why)


def _walk(
    t: Any, copy_of: Any, namer: ParamNamer, specs: dict[str, Any], seeds: NoiseSeeds, forced: bool, seen: set[int]
) -> _Node:
    """The node of ``t`` (pointing at dpa's copy); ``forced``: its parent applies it whatever its ``p``."""
    import albumentations as A

    from dpa.integrations._albumentations_ops import DETERMINISTIC, TABLE

    def prefix() -> str:
        if id(t) in seen:  # one object, one name, so the same draws at both places (two flips cancel out)
            raise ValueError(
                f"the same {type(t).__name__} object appears twice in the pipeline; albumentations draws for each "
                f"occurrence, dpa names each transform once: put a copy (copy.deepcopy) at the second place"
            )
        seen.add(id(t))
        return namer.prefix(t)

    if isinstance(t, A.BaseCompose):
        kinds = {A.Compose: "compose", A.OneOf: "oneof", A.SomeOf: "someof", A.RandomOrder: "someof",
                 A.Sequential: "sequential", A.OneOrOther: "oneorother"}
        kind = kinds.get(type(t))
        if kind is None:
            _refuse(t, "dpa walks Compose, OneOf, SomeOf, RandomOrder, Sequential and OneOrOther")
        node = _Node(kind, copy_of(t), prefix=prefix())
        children_forced = kind in ("oneof", "oneorother")
        node.children = [_walk(c, copy_of, namer, specs, seeds, children_forced, seen) for c in t.transforms]
        node.outputs = add_fields(node.prefix, specs_of(t, lambda: _container_fields(t, kind, forced)), specs)
        return node
    handler = TABLE.handler_for(t)
    if handler is None:
        _refuse(t)
    why = handler.check(t)
    if why:
        _refuse(t, why)
    cls = type(t).__name__
    if cls in DETERMINISTIC and (t.p >= 1.0 or forced):
        return _Node("leaf", copy_of(t), handler=handler)
    node = _Node("leaf", copy_of(t), prefix=prefix(), handler=handler)
    def own() -> dict[str, Any]:
        fields = dict(handler.fields(t))
        if not forced:
            fields["apply"] = BernoulliSpec(p=min(max(float(t.p), 0.0), 1.0))
        return fields

    fields = specs_of(t, own)
    node.outputs = add_fields(node.prefix, fields, specs)
    if handler.noisy:
        node.noise_seed = seeds.add(node.prefix)
    return node


def _container_fields(t: Any, kind: str, forced: bool) -> dict[str, Any]:
    """A container's own draws: its gate, OneOf's choice, SomeOf's subset, OneOrOther's side."""
    out: dict[str, Any] = {}
    n = len(t.transforms)
    gated = kind == "someof" or (not forced and kind in ("compose", "oneof", "sequential"))
    if gated and t.p < 1.0:
        out["apply"] = BernoulliSpec(p=max(float(t.p), 0.0))
    if kind == "oneof" and n:
        out["choice"] = ChoiceSpec(values=tuple(range(n)), weights=tuple(float(w) for w in t.transforms_ps))
    elif kind == "someof" and n > 1 and t.n > 0:
        if t.replace:
            for k in range(t.n):
                out[f"pick_{k}"] = IntegerSpec(low=0, high=n - 1)
        elif n <= 12:
            out["order"] = PermutationSpec(n=n)
        else:
            _refuse(t, f"choosing from more than 12 transforms without replacement ({n})")
    elif kind == "oneorother":
        out["first"] = BernoulliSpec(p=min(max(float(t.p), 0.0), 1.0))
    return out


class _NoRandom:
    """Stands where albumentations keeps its RNGs in dpa's copy: a draw dpa did not replace fails loudly."""

    def __init__(self, which: str) -> None:
        self.which = which

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(
            f"an albumentations transform called its {self.which} RNG ({name}) inside dpa's deterministic pipeline: "
            f"it draws something dpa does not drive, so its result would not be a function of (seed, epoch, sample id)"
        )

    def __deepcopy__(self, memo: dict) -> "_NoRandom":
        return _NoRandom(self.which)


class DeterministicAlbumentations:
    """An albumentations pipeline whose every draw comes from dpa (made by :func:`deterministic`).

    Attributes:
        config: the derived :class:`~dpa.AugmentationConfig` (``None`` when the
            pipeline has no random transform); ``config.fingerprint()``,
            ``dpa inspect`` and ``assert_consistent_across_ranks`` work on it.
        seed: the seed given to :func:`deterministic`.
    """

    def __init__(self, root: _Node, config: AugmentationConfig | None, seed: int, seeds: NoiseSeeds) -> None:
        self._root = root
        self.config = config
        self.seed = seed
        self._noise_seeds = seeds

    @property
    def transform(self) -> Any:
        """dpa's copy of the pipeline (what runs; its RNGs are disabled)."""
        return self._root.t

    def __repr__(self) -> str:
        names = list(self.config) if self.config is not None else []
        return f"DeterministicAlbumentations(seed={self.seed}, params={names})"

    def params(self, sample_id: int | str, epoch: int) -> dict[str, Any]:
        """dpa's values for one sample: ``{config output name: value}`` (what drives albumentations)."""
        sample_id = _keyed(sample_id)
        if self.config is None:
            check_sample_id(sample_id)
            check_epoch(epoch)
            return {}
        return gen_augmentation_params(sample_id, self.config, seed=self.seed, epoch=epoch)

    def noise_seed(self, prefix: str) -> int:
        """The seed of the noise field of the transform named ``prefix`` (``"GaussNoise"``).

        Its standard normals are ``dpa.apply.noise_field((1, C, H, W), [sample_id], seed=da.noise_seed(prefix),
        epoch=epoch)``, transposed to the image's (H, W, C): pixel (y, x) of channel c gets the same normal as
        ``dpa.apply.gaussian_noise`` gives a (C, H, W) tensor of that sample. The pipeline's first noise
        transform uses ``da.seed`` itself; a later one ``dpa.keys.stream_key(seed, prefix + ".noise")``.

        Raises:
            KeyError: no Gaussian-noise transform has that name.
        """
        return self._noise_seeds(prefix)

    def __call__(self, *, sample_id: int | str, epoch: int, **data: Any) -> dict[str, Any]:
        """Augment one sample, as ``compose(**data)`` would, with dpa's parameters for ``sample_id`` in ``epoch``.

        Args:
            sample_id: the sample's id, in ``[0, 2**64)`` (a dataset index), or a
                string key (a file path) mapped by :func:`dpa.sample_id_from_key`.
            epoch: the epoch, in ``[0, 2**32)``.
            **data: albumentations' targets: ``image=``, ``mask=``, ``bboxes=``,
                ``keypoints=``, labels, additional targets.

        Returns:
            albumentations' usual dict of outputs.

        Raises:
            ValueError / TypeError: a bad ``sample_id`` or ``epoch``, or what
                albumentations raises for bad data.
        """
        sample_id, epoch = check_sample_id(_keyed(sample_id)), check_epoch(epoch)
        values = self.params(sample_id, epoch)
        run = _Run(values, sample_id, epoch, self.seed)
        root = self._root
        if root.kind == "leaf":
            return run.leaf(root, data, forced=False)
        if root.kind == "compose" and root.t.save_applied_params and root.t.main_compose:
            data["applied_transforms"] = []
        return run.node(root, data, forced=False)


@dataclass
class _Run:
    values: Mapping[str, Any]
    sample_id: int
    epoch: int
    seed: int

    def own(self, node: _Node) -> dict[str, Any]:
        return {f: self.values[out] for f, out in node.outputs.items()}

    def node(self, node: _Node, data: dict[str, Any], forced: bool) -> dict[str, Any]:
        if node.kind == "leaf":
            return self.leaf(node, data, forced)
        v, t = self.own(node), node.t
        if "apply" in v and not v["apply"]:  # the spec exists only where the container's gate is drawn
            return data
        if node.kind == "compose":
            t.preprocess(data)
            for child in node.children:
                data = self.node(child, data, forced=False)
                self._track(t, child, data)
                data = t.check_data_post_transform(data)
            return t.postprocess(data)
        if node.kind == "sequential":
            for child in node.children:
                data = self.node(child, data, forced=False)
                self._track(t, child, data)
                data = t.check_data_post_transform(data)
            return data
        if node.kind == "oneof":
            if not node.children:
                return data
            child = node.children[int(v["choice"])]
            data = self.node(child, data, forced=True)
            self._track(t, child, data)
            return data
        if node.kind == "oneorother":
            return self.node(node.children[0] if v["first"] else node.children[-1], data, forced=True)
        # someof / randomorder
        for i in self._someof_indices(node, v):
            child = node.children[i]
            data = self.node(child, data, forced=False)
            self._track(t, child, data)
            data = t.check_data_post_transform(data)
        return data

    @staticmethod
    def _someof_indices(node: _Node, v: Mapping[str, Any]) -> list[int]:
        import albumentations as A

        t, n = node.t, len(node.children)
        if t.n <= 0 or n == 0:
            return []
        if n == 1:
            picked = [0] * (t.n if t.replace else 1)
        elif t.replace:
            picked = [int(v[f"pick_{k}"]) for k in range(t.n)]
        else:
            picked = [int(v[f"order_{k}"]) for k in range(t.n)]
        return picked if type(t) is A.RandomOrder else sorted(picked)

    @staticmethod
    def _track(container: Any, child: _Node, data: dict[str, Any]) -> None:
        """What ``BaseCompose._track_transform_params`` records when ``save_applied_params`` is on."""
        if "applied_transforms" in data and child.kind == "leaf" and getattr(child.t, "params", None):
            data["applied_transforms"].append((type(child.t).__name__, child.t.params.copy()))

    def leaf(self, node: _Node, data: dict[str, Any], forced: bool) -> dict[str, Any]:
        t = node.t
        t.params = {}
        if t.p <= 0.0:  # albumentations skips these even when a OneOf forces them
            return data
        v = self.own(node)
        if "apply" in v and not v["apply"]:  # forced leaves have no gate spec
            return data
        params = t.update_transform_params(params={}, data=data)
        params.update(node.handler.params(t, v, params, data, self._noise(node)))
        t.params = params
        return t.apply_with_params(params, **data)

    def _noise(self, node: _Node) -> Any:
        def field(shape: tuple[int, ...]) -> np.ndarray:
            """Standard normals for an (H, W) or (H, W, C) array: element (y, x, c) is the field's (c, y, x)."""
            from dpa.apply import noise_field

            seed = node.noise_seed
            chw = (shape[2] if len(shape) == 3 else 1, shape[0], shape[1])
            z = noise_field((1, *chw), [self.sample_id], seed=seed, epoch=self.epoch).numpy()[0]
            return z.transpose(1, 2, 0) if len(shape) == 3 else z[0]

        return field
