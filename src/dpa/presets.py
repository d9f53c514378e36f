"""The built-in presets: ``mild``, ``moderate`` and ``aggressive``.

Each preset is an ordinary :class:`~dpa.config.AugmentationConfig`; copy one
with ``get_preset(name).to_dict()`` to start your own. Units: angles in
degrees, translations and boxes as fractions of the image size, colour
factors multiplicative (1 = unchanged), hue as a fraction of the colour
circle, noise as a standard deviation on a [0, 1] intensity scale, blur as a
Gaussian sigma in pixels. The table in README.md lists the same ranges.

=================  ==============  ==============  ==============
parameter          mild            moderate        aggressive
=================  ==============  ==============  ==============
hflip              p 0.5           p 0.5           p 0.5
vflip              -               -               p 0.1
rotation           +-5             +-15            +-30
scale              0.95..1.05      0.9..1.1        0.75..1.25
translate_x, _y    +-0.05          +-0.1           +-0.2
shear              -               +-5             +-15
brightness         0.9..1.1        0.8..1.2        0.6..1.4
contrast           0.9..1.1        0.8..1.2        0.6..1.4
saturation         0.9..1.1        0.8..1.2        0.5..1.5
hue                +-0.02          +-0.05          +-0.1
color_order        -               4 ops           4 ops
crop (resized)     area 0.8..1     area 0.5..1     area 0.25..1
blur_sigma         -               0.1..1, p 0.2   0.1..2, p 0.4
noise_std          -               0.005..0.03,    0.01..0.08,
                                   p 0.2           p 0.4
erasing            -               area .02..0.2,  area .02..0.33,
                                   p 0.25          p 0.5
=================  ==============  ==============  ==============
"""

from __future__ import annotations

from typing import Any

from dpa.config import AugmentationConfig

__all__ = ["get_preset", "preset_names", "PRESET_DICTS"]

_RATIO = [3.0 / 4.0, 4.0 / 3.0]


def _u(low: float, high: float, **extra: Any) -> dict[str, Any]:
    return {"kind": "uniform", "low": low, "high": high, **extra}


PRESET_DICTS: dict[str, dict[str, dict[str, Any]]] = {
    "mild": {
        "hflip": {"kind": "bernoulli", "p": 0.5},
        "rotation": _u(-5.0, 5.0),
        "scale": _u(0.95, 1.05),
        "translate_x": _u(-0.05, 0.05),
        "translate_y": _u(-0.05, 0.05),
        "brightness": _u(0.9, 1.1),
        "contrast": _u(0.9, 1.1),
        "saturation": _u(0.9, 1.1),
        "hue": _u(-0.02, 0.02),
        "crop": {"kind": "resized_crop", "scale": [0.8, 1.0], "ratio": _RATIO},
    },
    "moderate": {
        "hflip": {"kind": "bernoulli", "p": 0.5},
        "rotation": _u(-15.0, 15.0),
        "scale": _u(0.9, 1.1),
        "translate_x": _u(-0.1, 0.1),
        "translate_y": _u(-0.1, 0.1),
        "shear": _u(-5.0, 5.0),
        "brightness": _u(0.8, 1.2),
        "contrast": _u(0.8, 1.2),
        "saturation": _u(0.8, 1.2),
        "hue": _u(-0.05, 0.05),
        "color_order": {"kind": "permutation", "n": 4},
        "crop": {"kind": "resized_crop", "scale": [0.5, 1.0], "ratio": _RATIO},
        "blur_sigma": _u(0.1, 1.0, p=0.2, identity=0.0),
        "noise_std": _u(0.005, 0.03, p=0.2, identity=0.0),
        "erasing": {"kind": "erasing", "scale": [0.02, 0.2], "ratio": [0.3, 3.3], "p": 0.25},
    },
    "aggressive": {
        "hflip": {"kind": "bernoulli", "p": 0.5},
        "vflip": {"kind": "bernoulli", "p": 0.1},
        "rotation": _u(-30.0, 30.0),
        "scale": _u(0.75, 1.25),
        "translate_x": _u(-0.2, 0.2),
        "translate_y": _u(-0.2, 0.2),
        "shear": _u(-15.0, 15.0),
        "brightness": _u(0.6, 1.4),
        "contrast": _u(0.6, 1.4),
        "saturation": _u(0.5, 1.5),
        "hue": _u(-0.1, 0.1),
        "color_order": {"kind": "permutation", "n": 4},
        "crop": {"kind": "resized_crop", "scale": [0.25, 1.0], "ratio": _RATIO},
        "blur_sigma": _u(0.1, 2.0, p=0.4, identity=0.0),
        "noise_std": _u(0.01, 0.08, p=0.4, identity=0.0),
        "erasing": {"kind": "erasing", "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "p": 0.5},
    },
}

_CACHE: dict[str, AugmentationConfig] = {}


def preset_names() -> list[str]:
    """The built-in preset names, mildest first."""
    return list(PRESET_DICTS)


def get_preset(name: str) -> AugmentationConfig:
    """The built-in preset ``name``: ``"mild"``, ``"moderate"`` or ``"aggressive"``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).

    >>> get_preset("moderate")["rotation"].high
    15.0
    """
    if not isinstance(name, str) or name not in PRESET_DICTS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {preset_names()}")
    if name not in _CACHE:
        _CACHE[name] = AugmentationConfig.from_dict(PRESET_DICTS[name])
    return _CACHE[name]
