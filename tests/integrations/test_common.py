"""dpa.integrations._common: the naming rule, the refusal error and the version check every adapter shares."""

from __future__ import annotations

import doctest

import pytest

from dpa.integrations import _common
from dpa.integrations._common import (
    ParamNamer,
    UnsupportedTransformError,
    UnsupportedVersionError,
    parse_version,
    require_version,
)


class Blur:
    pass


class Flip:
    pass


def test_names_by_class_and_occurrence() -> None:
    namer = ParamNamer()
    a, b, c, f = Blur(), Blur(), Blur(), Flip()
    assert [namer.prefix(t) for t in (a, f, b, c)] == ["Blur", "Flip", "Blur_2", "Blur_3"]
    assert namer.prefix(b) == "Blur_2"  # asked again: the same
    assert namer.unused() == []


def test_user_names_by_object_or_default_name() -> None:
    a, b = Blur(), Blur()
    namer = ParamNamer({b: "soft", "Blur": "sharp", "Flip_9": "never"})
    assert (namer.prefix(a), namer.prefix(b)) == ("sharp", "soft")
    assert namer.unused() == ["Flip_9"]


@pytest.mark.parametrize("names, exc, fragment", [
    ({"Blur": "2fast"}, ValueError, "not starting with a digit"),
    ({"Blur": "a b"}, ValueError, "letters, digits"),
    ([("Blur", "x")], TypeError, "names must be a mapping"),
])
def test_bad_names(names, exc, fragment) -> None:
    with pytest.raises(exc, match=fragment):
        ParamNamer(names)


def test_refusal_names_the_transform_and_the_supported_ones() -> None:
    err = UnsupportedTransformError(Blur(), "kornia", ["RandomAffine", "ColorJitter"], "it draws inside")
    assert isinstance(err, TypeError) and isinstance(err, ValueError)
    text = str(err)
    assert text.startswith("kornia transform Blur is random and dpa cannot drive it (it draws inside)")
    assert "Supported random transforms: ColorJitter, RandomAffine." in text


@pytest.mark.parametrize("text, expected", [
    ("0.29.1+cu130", (0, 29, 1)),  # a local build tag
    ("2.0.8", (2, 0, 8)),
    ("2.0.8rc1", (2, 0, 8)),  # a pre-release counts as its release
    ("0.9", (0, 9)),
    ("1.10.0.dev20260101", (1, 10, 0)),
])
def test_parse_version(text, expected) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("installed, ok", [
    ("0.21.0", True), ("0.29.1+cu130", True), ("0.29.99", True),  # [minimum, below)
    ("0.20.1", False), ("0.30.0", False), ("1.0", False),
])
def test_require_version(installed, ok) -> None:
    if ok:
        require_version("torchvision", installed, (0, 21), (0, 30))
    else:
        with pytest.raises(UnsupportedVersionError) as info:
            require_version("torchvision", installed, (0, 21), (0, 30))
        assert f"supports torchvision >= 0.21 and < 0.30; {installed} is installed" in str(info.value)
        assert isinstance(info.value, ImportError)


def test_unreadable_version() -> None:
    with pytest.raises(ValueError, match="cannot read a version number"):
        parse_version("unknown")


def test_docstring_examples() -> None:
    assert doctest.testmod(_common, optionflags=doctest.ELLIPSIS).failed == 0
