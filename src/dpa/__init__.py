"""dpa: deterministic data-augmentation parameters.

Every augmentation parameter (a rotation angle, a flip, a colour factor, a
crop box) is a pure function of (seed, epoch, sample id, parameter name):
no hidden RNG state, so results do not depend on worker count, rank count,
batch order or restarts.

>>> import dpa
>>> cfg = dpa.get_preset("moderate")
>>> p = dpa.gen_augmentation_params(42, cfg, seed=0, epoch=3)
>>> p["rotation"] == float(dpa.gen_augmentation_batch([41, 42], cfg, epoch=3)["rotation"][1])
True

Layers (imports point down): :mod:`dpa.prng` (the XXH64 kernel; numpy, or
the compiled ``dpa._ckernel`` where it was built, same bits) ->
:mod:`dpa.keys`, :mod:`dpa.fmath`, :mod:`dpa.specs`, :mod:`dpa.config`,
:mod:`dpa.presets` -> :mod:`dpa.program` (spec programs) -> :mod:`dpa.generator`
(:class:`Generator`) -> :mod:`dpa.generate`, :mod:`dpa.stream`; then
:mod:`dpa.distributed`, :mod:`dpa.batch`, :mod:`dpa.benchmark` and the CLI.
"""

from dpa.composite import ErasingSpec, PermutationSpec, ResizedCropSpec
from dpa.config import AugmentationConfig
from dpa.generate import gen_augmentation_batch, gen_augmentation_params
from dpa.generator import Generator
from dpa.keys import sample_id_from_key
from dpa.presets import get_preset, preset_names
from dpa.stream import ParamBatch, stream_augmentation_chain, stream_augmentation_chunks
from dpa.specs import (
    BernoulliSpec,
    ChoiceSpec,
    IntegerSpec,
    LogUniformSpec,
    NormalSpec,
    Spec,
    TruncatedNormalSpec,
    UniformSpec,
    register_spec,
)
from dpa.version import STREAM_VERSION, __version__

__all__ = [
    "STREAM_VERSION",
    "__version__",
    "AugmentationConfig",
    "get_preset",
    "preset_names",
    "Generator",
    "gen_augmentation_params",
    "gen_augmentation_batch",
    "sample_id_from_key",
    "stream_augmentation_chain",
    "stream_augmentation_chunks",
    "ParamBatch",
    "Spec",
    "UniformSpec",
    "LogUniformSpec",
    "NormalSpec",
    "TruncatedNormalSpec",
    "IntegerSpec",
    "ChoiceSpec",
    "BernoulliSpec",
    "ResizedCropSpec",
    "ErasingSpec",
    "PermutationSpec",
    "register_spec",
]
