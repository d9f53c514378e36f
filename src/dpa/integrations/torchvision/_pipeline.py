"""Walk a torchvision v2 pipeline once into a tree of nodes; each call runs the tree with one sample's dpa values."""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, Sequence

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision.transforms import v2

from dpa import AugmentationConfig, BernoulliSpec, ChoiceSpec, PermutationSpec, Spec, gen_augmentation_params
from dpa.integrations._adapt import NoiseSeeds
from dpa.integrations._common import ParamNamer, UnsupportedTransformError

from ._autoaugment import AUTO_RULES, AutoRule, run_auto
from ._rules import RULES, Call, Fields, Rule

__all__ = ["build", "Node", "SUPPORTED", "DETERMINISTIC"]

#: v2 transforms that draw nothing: called as they are.
DETERMINISTIC = tuple(
    getattr(v2, name)
    for name in (
        "Identity", "Resize", "CenterCrop", "FiveCrop", "TenCrop", "Pad", "Normalize", "ToImage", "ToPureTensor",
        "PILToTensor", "ToPILImage", "ToDtype", "ConvertImageDtype", "ToTensor", "Grayscale", "RGB",
        "LinearTransformation", "ClampBoundingBoxes", "ClampKeyPoints", "ConvertBoundingBoxFormat",
        "SanitizeBoundingBoxes", "SanitizeKeyPoints", "SetClampingMode", "UniformTemporalSubsample",
    )
    if hasattr(v2, name)
)

_DETERMINISTIC = dict.fromkeys(DETERMINISTIC)

_CONTAINERS = (v2.Compose, v2.RandomApply, v2.RandomChoice, v2.RandomOrder)

#: Names of the random transforms and containers dpa drives.
SUPPORTED = sorted({c.__name__ for c in (*RULES, *AUTO_RULES, *_CONTAINERS[1:])})

# Why some well-known random transforms are refused (the error says so).
_WHY = {
    "MixUp": "it mixes samples of a batch: apply it to batches, after the DataLoader",
    "CutMix": "it mixes samples of a batch: apply it to batches, after the DataLoader",
    "AugMix": "its Dirichlet mixing weights are not drawn by dpa yet",
    "ElasticTransform": "its displacement field is drawn inside the transform",
    "RandomIoUCrop": "its rejection loop depends on the boxes",
    "RandomChannelPermutation": "the number of channels is unknown until the image arrives",
    "RandomPhotometricDistort": "its channel permutation depends on the image's channels",
    "Lambda": "dpa cannot see what the function draws; if it draws nothing, list it in passthrough=",
}

_PROTOCOL = ("forward", "make_params", "transform", "_apply_image_or_video_transform")


class Node:
    """One step of the pipeline; ``run`` takes the call's inputs tuple and returns what the transform returns."""

    def run(self, inputs: tuple, call: Call) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _chain(nodes: Sequence[Node], inputs: tuple, call: Call) -> Any:
    """Compose.forward: each step's output is the next one's input."""
    needs_unpacking = len(inputs) > 1
    outputs: Any = inputs if needs_unpacking else inputs[0]
    for node in nodes:
        outputs = node.run(inputs, call)
        inputs = outputs if needs_unpacking else (outputs,)
    return outputs


class _Chain(Node):
    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes

    def run(self, inputs: tuple, call: Call) -> Any:
        return _chain(self.nodes, inputs, call)


class _Gate(Node):
    """RandomApply: the children in order when ``<prefix>.apply`` is true, else the inputs unchanged."""

    def __init__(self, key: str, nodes: list[Node]) -> None:
        self.key, self.nodes = key, nodes

    def run(self, inputs: tuple, call: Call) -> Any:
        if not call.values[self.key]:
            return inputs if len(inputs) > 1 else inputs[0]
        return _chain(self.nodes, inputs, call)


class _Choice(Node):
    """RandomChoice: the child ``<prefix>.choice`` picks."""

    def __init__(self, key: str | None, nodes: list[Node]) -> None:
        self.key, self.nodes = key, nodes

    def run(self, inputs: tuple, call: Call) -> Any:
        return self.nodes[call.values[self.key] if self.key is not None else 0].run(inputs, call)


class _Order(Node):
    """RandomOrder: the children in the order ``<prefix>.order_0 .. _{n-1}`` gives."""

    def __init__(self, keys: list[str], nodes: list[Node]) -> None:
        self.keys, self.nodes = keys, nodes

    def run(self, inputs: tuple, call: Call) -> Any:
        order = [call.values[k] for k in self.keys] if self.keys else range(len(self.nodes))
        return _chain([self.nodes[i] for i in order], inputs, call)


class _Pass(Node):
    """A transform that draws nothing, called as it is; one the user vouched for is watched."""

    def __init__(self, transform: Any, watched: bool) -> None:
        self.transform, self.watched = transform, watched

    def run(self, inputs: tuple, call: Call) -> Any:
        if not self.watched:
            return self.transform(*inputs)
        before = torch.random.get_rng_state()
        out = self.transform(*inputs)
        if not torch.equal(before, torch.random.get_rng_state()):
            raise RuntimeError(
                f"{_describe(self.transform)} was passed in passthrough= as drawing nothing, but it used torch's "
                f"global random number generator: its result would depend on the worker and the call order. "
                f"Remove its randomness, or leave it out of the deterministic pipeline."
            )
        return out


class _Leaf(Node):
    """A random transform driven through its public protocol: ``transform(inpt, params)`` with dpa's params.

    Mirrors ``Transform.forward`` (and ``_RandomApplyTransform.forward`` with a gate): the same flattening,
    input checks and choice of the inputs to transform; only ``make_params`` is replaced.
    """

    def __init__(self, transform: Any, rule: Rule, prefix: str, gate: str | None) -> None:
        self.transform, self.rule, self.prefix, self.gate = transform, rule, prefix, gate

    def run(self, inputs: tuple, call: Call) -> Any:
        t = self.transform
        packed = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = tree_flatten(packed)
        t.check_inputs(flat)
        if self.gate is not None and not call.values[self.gate]:
            return packed
        needs = t._needs_transform_list(flat)
        chosen = [x for x, n in zip(flat, needs) if n]
        fields = Fields(call.values, self.prefix)
        params = self.rule.params(t, fields, chosen, call)
        if params is None:
            return packed
        if self.rule.transform is None:
            out = [t.transform(x, params) if n else x for x, n in zip(flat, needs)]
        else:
            out, k = [], 0
            for x, n in zip(flat, needs):
                if n:
                    x = self.rule.transform(t, x, params, k, fields, call)
                    k += 1
                out.append(x)
        return tree_unflatten(out, spec)


class _Auto(Node):
    def __init__(self, transform: Any, rule: AutoRule, prefix: str) -> None:
        self.transform, self.rule, self.prefix = transform, rule, prefix

    def run(self, inputs: tuple, call: Call) -> Any:
        return run_auto(self.transform, self.rule, Fields(call.values, self.prefix), inputs)


# --------------------------------------------------------------------------- building


def _describe(t: Any) -> str:
    return f"{type(t).__name__} ({t!r})" if not isinstance(t, torch.nn.Module) else type(t).__name__


def _lookup(t: Any, table: Mapping[type, Any]) -> tuple[type, Any] | None:
    """The table's entry for ``t``'s class or a base class, refusing a subclass that changes how it draws."""
    for cls in type(t).__mro__:
        if cls in table:
            changed = [m for m in _PROTOCOL if getattr(type(t), m, None) is not getattr(cls, m, None)]
            if changed:
                raise UnsupportedTransformError(
                    t, "torchvision", SUPPORTED,
                    f"a subclass of {cls.__name__} that overrides {', '.join(changed)}: dpa cannot tell what it draws",
                )
            return cls, table[cls]
    return None


class _Builder:
    """Walks the user's pipeline (names and specs come from its objects); the nodes hold their copies."""

    def __init__(
        self, names: Mapping[Any, str] | None, passthrough: Sequence[Any], copy_of: Callable[[Any], Any], seed: int
    ) -> None:
        self.namer = ParamNamer(names)
        self.copy_of = copy_of
        self.noise_seeds = NoiseSeeds(seed)
        self.specs: dict[str, Spec] = {}
        self.named: dict[str, Any] = {}
        self.seen: dict[int, Any] = {}
        self.trusted_types = tuple(p for p in passthrough if isinstance(p, type))
        self.trusted_ids = {id(p) for p in passthrough if not isinstance(p, type)}
        self._keep = list(passthrough)  # their ids stay theirs

    def prefix(self, t: Any, specs: Mapping[str, Spec]) -> str:
        if id(t) in self.seen:
            raise ValueError(
                f"the same {type(t).__name__} object appears twice in the pipeline: both places would get the same "
                f"values (one stream per name), where torchvision draws each call afresh. Use two instances "
                f"(copy.deepcopy(t)) to draw them independently."
            )
        self.seen[id(t)] = t
        prefix = self.namer.prefix(t)
        self.named[prefix] = self.copy_of(t)
        for field, spec in specs.items():
            self.specs[f"{prefix}.{field}"] = spec
        return prefix

    def specs_of(self, t: Any, make: Callable[[], dict[str, Spec]]) -> dict[str, Spec]:
        try:
            return make()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{type(t).__name__}: its hyperparameters cannot be a dpa config: {exc}") from exc

    def build(self, t: Any) -> Node:
        if not callable(t):
            raise TypeError(
                f"each step of the pipeline must be a torchvision.transforms.v2 transform or a callable; "
                f"got {type(t).__name__} ({t!r})"
            )
        if id(t) in self.trusted_ids or (self.trusted_types and isinstance(t, self.trusted_types)):
            return _Pass(self.copy_of(t), watched=True)
        if isinstance(t, _CONTAINERS):
            return self._container(t)
        found = _lookup(t, RULES)
        if found is not None:
            return self._leaf(t, found[1])
        found = _lookup(t, AUTO_RULES)
        if found is not None:
            rule = found[1]
            prefix = self.prefix(t, self.specs_of(t, lambda: rule.specs(t)))
            return _Auto(self.copy_of(t), rule, prefix)
        if _lookup(t, _DETERMINISTIC) is not None:
            return _Pass(self.copy_of(t), watched=False)
        name = type(t).__name__
        why = _WHY.get(name, "") or _v1_advice(t)
        if not why:
            if isinstance(t, v2.Transform) or isinstance(t, torch.nn.Module):
                why = "not a transform dpa knows; if it draws nothing, list it (or its class) in passthrough="
            else:
                why = "a plain callable; if it draws nothing, list it in passthrough="
        raise UnsupportedTransformError(t, "torchvision", SUPPORTED, why)

    def _container(self, t: Any) -> Node:
        if type(t).forward is not next(c for c in type(t).__mro__ if c in _CONTAINERS).forward:
            raise UnsupportedTransformError(t, "torchvision", SUPPORTED, "a container subclass that overrides forward")
        if isinstance(t, v2.Compose):
            return _Chain([self.build(c) for c in t.transforms])
        n = len(t.transforms)
        if isinstance(t, v2.RandomApply):
            prefix = self.prefix(t, self.specs_of(t, lambda: {"apply": BernoulliSpec(p=t.p)}))
            return _Gate(f"{prefix}.apply", [self.build(c) for c in t.transforms])
        if isinstance(t, v2.RandomChoice):
            prefix = self.prefix(t, self.specs_of(
                t, lambda: {"choice": ChoiceSpec(values=tuple(range(n)), weights=tuple(t.p))} if n > 1 else {}))
            return _Choice(f"{prefix}.choice" if n > 1 else None, [self.build(c) for c in t.transforms])
        if n > 12:
            why = f"RandomOrder of {n} transforms; dpa orders at most 12"
            raise UnsupportedTransformError(t, "torchvision", SUPPORTED, why)
        prefix = self.prefix(t, self.specs_of(t, lambda: {"order": PermutationSpec(n=n)} if n > 1 else {}))
        return _Order([f"{prefix}.order_{i}" for i in range(n)] if n > 1 else [], [self.build(c) for c in t.transforms])

    def _leaf(self, t: Any, rule: Rule) -> Node:
        def specs() -> dict[str, Spec]:
            own = rule.specs(t)
            return {"apply": BernoulliSpec(p=t.p), **own} if _is_random_apply(t) else own

        prefix = self.prefix(t, self.specs_of(t, specs))
        if isinstance(t, v2.GaussianNoise):
            self.noise_seeds.add(prefix)
        gate = f"{prefix}.apply" if _is_random_apply(t) else None
        return _Leaf(self.copy_of(t), rule, prefix, gate)


def _v1_advice(t: Any) -> str:
    """For a class of the classic ``torchvision.transforms`` (v1) API: its v2 twin, which dpa drives."""
    module = type(t).__module__
    if not module.startswith("torchvision.transforms.") or module.startswith("torchvision.transforms.v2"):
        return ""
    name = type(t).__name__
    twin = f"torchvision.transforms.v2.{name}" if hasattr(v2, name) else "its torchvision.transforms.v2 counterpart"
    return f"a torchvision.transforms (v1) class: dpa drives the v2 API; use {twin}, its drop-in replacement"


def _is_random_apply(t: Any) -> bool:
    """A v2 transform with a ``p`` gate: its forward is ``_RandomApplyTransform``'s."""
    return any(c.__name__ == "_RandomApplyTransform" for c in type(t).__mro__)


def build(
    transform: Any, names: Mapping[Any, str] | None, passthrough: Sequence[Any], seed: int
) -> tuple[Node, Any, AugmentationConfig | None, dict[str, Any], NoiseSeeds]:
    """The node tree, the copy of the pipeline it runs, the derived config (None when nothing is random),
    ``{prefix: transform (the copy)}`` and the noise seeds.

    The tree runs on a deep copy taken now, so later changes to the user's
    objects cannot make the pipeline disagree with its config.
    """
    memo: dict[int, Any] = {}
    clone = copy.deepcopy(transform, memo)
    builder = _Builder(names, passthrough, lambda t: memo.get(id(t), t), seed)
    root = builder.build(transform)
    unused = builder.namer.unused()
    if unused:
        raise ValueError(
            f"names= has keys that match no random transform of the pipeline: {unused!r}; the random transforms "
            f"are {list(builder.named)} (name them by these default names or by the transform objects)"
        )
    config = AugmentationConfig(builder.specs) if builder.specs else None
    return root, clone, config, builder.named, builder.noise_seeds


def values_of(config: AugmentationConfig | None, sample_id: int, seed: int, epoch: int) -> dict[str, Any]:
    """This sample's values; empty when the pipeline draws nothing (the id, seed and epoch are checked all the same)."""
    if config is None:
        gen_augmentation_params(sample_id, _CHECK, seed=seed, epoch=epoch)
        return {}
    return gen_augmentation_params(sample_id, config, seed=seed, epoch=epoch)


_CHECK = AugmentationConfig({"check": {"kind": "bernoulli", "p": 0.5}})
