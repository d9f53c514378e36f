"""What the kornia and albumentations adapters share: handlers by exact class, fields under a prefix, noise seeds."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

from dpa.integrations._common import ParamNamer, UnsupportedTransformError
from dpa.keys import stream_key

__all__ = ["HandlerTable", "add_fields", "check_names_used", "noise_seed"]


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


def noise_seed(seed: int, prefix: str) -> int:
    """The seed of the noise field of the transform named ``prefix``: ``stream_key(seed, prefix + ".noise")``."""
    return stream_key(seed, f"{prefix}.noise")
