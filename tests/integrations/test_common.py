"""dpa.integrations._common: the naming rule and the refusal error every adapter shares."""

from __future__ import annotations

import doctest

import pytest

from dpa.integrations import _common
from dpa.integrations._common import ParamNamer, UnsupportedTransformError


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


def test_docstring_examples() -> None:
    assert doctest.testmod(_common, optionflags=doctest.ELLIPSIS).failed == 0


def test_an_unreadable_version_names_the_distribution(monkeypatch) -> None:
    """A version string with no number in it (a broken install) is refused naming the library, not bare."""
    from importlib import metadata

    from dpa.integrations._version import UnsupportedVersionError, require_version

    monkeypatch.setattr(metadata, "version", lambda dist: "garbage")
    with pytest.raises(UnsupportedVersionError, match=r"numpy.*cannot read a version number from 'garbage'"):
        require_version("numpy", "1.0", "1000.0", tested="any")
