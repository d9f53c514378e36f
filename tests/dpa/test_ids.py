"""dpa.ids: torch id tensors in, checked (the GPU path's uint64 tensors need no check, so no device sync)."""

from __future__ import annotations

import numpy as np
import pytest

import dpa
from dpa.ids import as_torch_ids
from tests.conftest import requires_torch


@requires_torch
def test_uint64_tensors_are_ids_as_they_are() -> None:
    import torch

    ids = np.array([0, 5, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
    t = as_torch_ids(torch.from_numpy(ids.copy()).to(torch.uint64))
    assert t.dtype == torch.int64 and t.numpy().view(np.uint64).tolist() == ids.tolist()
    gen = dpa.Generator(dpa.get_preset("mild"), seed=2)
    got = gen.batch(torch.from_numpy(ids.copy()).to(torch.uint64), backend="torch", executor="torch")
    want = gen.batch(ids)
    for name in want:
        np.testing.assert_array_equal(got[name].numpy(), want[name])
    with pytest.raises(ValueError, match="must be 1-D"):
        as_torch_ids(torch.zeros((2, 2), dtype=torch.uint64))


@requires_torch
def test_int64_tensors_still_refuse_negative_ids() -> None:
    import torch

    with pytest.raises(ValueError, match=r"sample_ids\[1\] must be in \[0, 2\*\*64\); got -3"):
        as_torch_ids(torch.tensor([1, -3]))
    assert as_torch_ids(range(2, 10, 3)).tolist() == [2, 5, 8]
