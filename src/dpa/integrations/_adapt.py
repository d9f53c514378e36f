"""What the kornia and albumentations adapters share: handlers by exact class, fields under a prefix, noise seeds."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

from dpa.integrations._common import ParamNamer, UnsupportedTransformError
from dpa.keys import stream_key

__all__ = ["HandlerTable", "NoiseSeeds", "add_fields", "check_names_used", "specs_of"]


class HandlerTable:
    """The handler of each class an adapter drives, looked up by a transform's *exact* class.

    A subclass may change what its parameters mean, so it is refused, with
    the supported parent named in the message.

    Args:
        library: the library's name, for messages (``"kornia"``).
        handlers: class name -> handler.
        deterministic: the class names that are not random (left out of the
            "supported random transforms" list).
        classes: returns ``{class: handler}``; called once, when first needed
            (it imports the library).
    """

    def __init__(self, library: str, handlers: Mapping[str, Any], deterministic: tuple[str, ...],
                 classes: Callable[[], Mapping[type, Any]]) -> None:
        self.library = library
        self.handlers = dict(handlers)
        self.deterministic = deterministic
        self._resolve = classes

    @functools.cached_property
    def _classes(self) -> Mapping[type, Any]:
        return self._resolve()

    def handler_for(self, obj: Any) -> Any:
        """The handler of ``obj``'s exact class, or None."""
        return self._classes.get(type(obj))

    def supported_names(self) -> list[str]:
        """The random transforms the adapter drives."""
        return sorted(n for n in self.handlers if n not in self.deterministic)

    def refuse(self, obj: Any, why: str = "") -> None:
        """Raise :class:`UnsupportedTransformError` for ``obj``; a subclass of a supported class says so."""
        if not why:
            parent = next((c.__name__ for c in type(obj).__mro__[1:] if c in self._classes), None)
            if parent is not None:
                why = f"a subclass of {parent}; dpa drives the exact class only"
        raise UnsupportedTransformError(obj, self.library, self.supported_names(), why)


def specs_of(t: Any, make: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
    """``make()``, the specs of transform ``t``; a hyperparameter dpa cannot draw (an infinite or NaN bound,
    a range whose width overflows) is a ValueError that names the transform. A refusal passes as it is."""
    try:
        return dict(make())
    except UnsupportedTransformError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{type(t).__name__}: its hyperparameters cannot be a dpa config: {exc}") from exc


def add_fields(prefix: str, fields: Mapping[str, Any], specs: dict[str, Any]) -> dict[str, str]:
    """Add ``fields`` to ``specs`` as ``<prefix>.<field>``; return field output -> flat config output name.

    A composite field (a permutation ``order``) has several outputs: ``order_0`` -> ``<prefix>.order_0``...
    """
    outputs: dict[str, str] = {}
    for name, spec in fields.items():
        specs[f"{prefix}.{name}"] = spec
        outputs.update({name + out.suffix: f"{prefix}.{name}{out.suffix}" for out in spec.outputs()})
    return outputs


def check_names_used(namer: ParamNamer) -> None:
    """Raise ValueError for user names that matched no transform (a typo, most likely)."""
    unused = namer.unused()
    if unused:
        raise ValueError(f"names has key(s) {unused!r} that match no random transform of the pipeline")


class NoiseSeeds:
    """The seed of each Gaussian-noise transform's field (``dpa.apply.noise_field``).

    The first noise transform of the pipeline (in the order it is walked)
    uses the run's seed, so its field is the one ``dpa.apply.gaussian_noise``
    makes for that seed; each later one gets its own,
    ``stream_key(seed, "<prefix>.noise")``, so that two noise transforms are
    not the same noise.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._by_prefix: dict[str, int] = {}

    def add(self, prefix: str) -> int:
        """Register the noise transform ``prefix``; return its seed."""
        seed = self.seed if not self._by_prefix else stream_key(self.seed, f"{prefix}.noise")
        self._by_prefix[prefix] = seed
        return seed

    def __call__(self, prefix: str) -> int:
        if prefix not in self._by_prefix:
            raise KeyError(f"no Gaussian-noise transform is named {prefix!r}; the pipeline's are {list(self._by_prefix)}")
        return self._by_prefix[prefix]
