"""Make a torchvision v2 pipeline deterministic: every random choice a pure function of (seed, epoch, sample id).

:func:`deterministic` walks your ``torchvision.transforms.v2`` pipeline once
(``Compose``, ``RandomApply``, ``RandomChoice``, ``RandomOrder``), derives a
dpa :class:`~dpa.AugmentationConfig` from each random transform's *own*
hyperparameters (``scale``/``ratio`` ranges, ``degrees``, jitter ranges,
``p`` ...), and returns a callable that applies each transform through its
public ``transform(inpt, params)`` with params computed by dpa instead of its
``make_params``. torch's global random number generator is never consulted,
so a sample's result is the same in any DataLoader worker, after any restart,
whatever ``torch.manual_seed`` was called with.

>>> import torch
>>> from torchvision.transforms import v2
>>> from dpa.integrations.torchvision import deterministic
>>> pipeline = v2.Compose([v2.RandomResizedCrop(8, antialias=True), v2.RandomHorizontalFlip(), v2.ColorJitter(0.4, 0.4)])
>>> dt = deterministic(pipeline, seed=0)
>>> image = torch.arange(3 * 16 * 16, dtype=torch.uint8).reshape(3, 16, 16)
>>> out = dt(image, sample_id=7, epoch=0)
>>> torch.equal(out, dt(image, sample_id=7, epoch=0)), out.shape
(True, torch.Size([3, 8, 8]))
>>> list(dt.config)[:3]
['RandomResizedCrop.scale', 'RandomResizedCrop.ratio', 'RandomResizedCrop.x']

Boxes, masks and keypoints (``tv_tensors``) passed with the image follow the
same params, as in torchvision. The wrapper runs a deep copy of the pipeline
taken when it was wrapped, so its config always describes what runs. Which transforms are supported, the names of
the derived parameters, and the conventions used where torchvision's draws
depend on the image size are in docs/INTEGRATIONS.md.

Importing this module imports torchvision (``import dpa`` does not).
Supported torchvision versions: >= 0.21 (public ``make_params``/``transform``)
and < 0.30; tested with 0.29.1.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from dpa import AugmentationConfig, sample_id_from_key
from dpa.integrations._common import UnsupportedTransformError
from dpa.integrations._version import UnsupportedVersionError, require_version

_RANGE = dict(low="0.21", high="0.30", tested="0.29.1", module="torchvision")

try:
    from ._pipeline import DETERMINISTIC, SUPPORTED, Node, build, values_of
    from ._rules import Call
except ImportError:
    # torchvision's v2 API is imported now: a missing or older torchvision is the version error, not a bare
    # ImportError from inside the adapter.
    require_version("torchvision", **_RANGE)
    raise

__all__ = [
    "deterministic", "DeterministicTransform", "UnsupportedTransformError", "UnsupportedVersionError", "SUPPORTED",
    "DETERMINISTIC",
]


class DeterministicTransform:
    """A torchvision v2 pipeline whose random choices dpa makes; made by :func:`deterministic`.

    Attributes:
        config: the :class:`~dpa.AugmentationConfig` derived from the pipeline
            (``fingerprint()``, ``dpa inspect``, ``assert_consistent_across_ranks``
            work on it); None when the pipeline draws nothing.
        seed: the run's seed.
        transform: the copy of the pipeline that runs (taken when it was
            wrapped: later changes to your object do not reach it).
        named_transforms: ``{prefix: transform}`` for every random transform
            (in the copy), in pipeline order.
    """

    def __init__(
        self, transform: Any, root: Node, config: AugmentationConfig | None, named: dict[str, Any], seed: int,
        noise_seeds: Any,
    ) -> None:
        self.transform = transform
        self.config = config
        self.seed = seed
        self.named_transforms = dict(named)
        self._root = root
        self._noise_seeds = noise_seeds

    def __call__(self, *inputs: Any, sample_id: int | str, epoch: int) -> Any:
        """Apply the pipeline to one sample, as ``transform(*inputs)`` would, with this sample's dpa params.

        Args:
            *inputs: what the pipeline takes: an image (tensor, ``tv_tensors.Image``,
                PIL image), or several inputs / a dict / a tuple with boxes, masks,
                keypoints, labels (v2's usual rules decide which are transformed).
            sample_id: the sample's id, an int in ``[0, 2**64)`` (a dataset
                index), or a string key (a file path) mapped by :func:`dpa.sample_id_from_key`.
            epoch: the epoch, an int in ``[0, 2**32)``.

        Returns:
            What the pipeline returns, in the same structure.

        Raises:
            TypeError, ValueError: no inputs, or an invalid ``sample_id``/``epoch``;
                and whatever the transforms raise for their inputs.
        """
        if not inputs:
            raise TypeError("a deterministic pipeline needs at least one input (an image, or image and targets)")
        sid = _sample_id(sample_id)
        values = values_of(self.config, sid, self.seed, epoch)
        return self._root.run(inputs, Call(values, sid, self.seed, epoch, self._noise_seeds))

    def params(self, sample_id: int | str, epoch: int) -> dict[str, Any]:
        """The dpa values this sample gets in this epoch, ``{"<prefix>.<field>": value}`` (what the pipeline uses)."""
        return values_of(self.config, _sample_id(sample_id), self.seed, epoch)

    def noise_seed(self, prefix: str) -> int:
        """The seed of Gaussian-noise transform ``prefix``'s field.

        Its noise is ``mean + sigma * dpa.apply.noise_field((1, *shape), [sample_id],
        seed=dt.noise_seed(prefix), epoch=epoch)``: the pipeline's first noise
        transform has the run's seed (the field ``dpa.apply.gaussian_noise``
        makes), later ones their own. Raises KeyError for another prefix.
        """
        return self._noise_seeds(prefix)

    def __repr__(self) -> str:
        fingerprint = self.config.fingerprint() if self.config is not None else None
        return f"DeterministicTransform(seed={self.seed}, fingerprint={fingerprint}, random={list(self.named_transforms)})"


def _sample_id(sample_id: Any) -> Any:
    """A string key (a file path) becomes its id; anything else is checked by dpa when the values are made."""
    return sample_id_from_key(sample_id) if isinstance(sample_id, str) else sample_id


def deterministic(
    transform: Any, *, seed: int, names: Mapping[Any, str] | None = None, passthrough: Sequence[Any] = ()
) -> DeterministicTransform:
    """Wrap a torchvision v2 pipeline so that its random choices are a pure function of (seed, epoch, sample id).

    Args:
        transform: a v2 transform or container (``Compose``, ``RandomApply``,
            ``RandomChoice``, ``RandomOrder``), nested as you like.
        seed: the run's seed, an int in ``[0, 2**64)``.
        names: optional prefixes for the derived parameters, keyed by the
            transform object or by its default prefix (``"RandomRotation"``,
            ``"RandomRotation_2"``). Default prefixes are the class name for the
            first occurrence and ``<Class>_<k>`` for the k-th; parameters are
            named ``<prefix>.<field>``.
        passthrough: transforms (objects or classes) you vouch draw nothing
            random, such as your own deterministic transforms or a
            ``v2.Lambda``; they are called as they are, and a call that moves
            torch's global generator raises.

    Returns:
        A :class:`DeterministicTransform`; call it as ``dt(*inputs, sample_id=..., epoch=...)``.
        It runs a deep copy of ``transform`` taken now; its ``config`` is None
        when the pipeline draws nothing (it then only calls the transforms).

    Raises:
        UnsupportedTransformError: a random transform dpa cannot drive (your own
            class, ``MixUp``/``CutMix``, ``AugMix``, a subclass that overrides how
            it draws ...), named in the message: never left silently random.
        UnsupportedVersionError: torchvision outside the supported versions.
        ValueError: hyperparameters dpa cannot express (an inverted range), a
            transform object used twice, ``names`` that match nothing or clash,
            or an invalid seed.
        TypeError: a seed that is not an int.
    """
    require_version("torchvision", **_RANGE)
    if isinstance(passthrough, (str, bytes)) or not isinstance(passthrough, Sequence):
        raise TypeError(f"passthrough must be a list of transforms or classes; got {type(passthrough).__name__}")
    values_of(None, 0, seed, 0)  # refuses a bad seed now, not at the first sample
    root, clone, config, named, noise_seeds = build(transform, names, passthrough, seed)
    return DeterministicTransform(clone, root, config, named, seed, noise_seeds)

