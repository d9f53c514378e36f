"""dpa.integrations.webdataset on tar shards the test writes itself: params keyed by __key__."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
wds = pytest.importorskip("webdataset")

import dpa  # noqa: E402
from dpa.epochs import find_epoch_aware  # noqa: E402
from dpa.integrations.webdataset import ParamsStage  # noqa: E402

CFG = dpa.get_preset("mild")
SEED, PER_SHARD = 6, 10


def expected(key: str, epoch: int = 0) -> dict:
    return dpa.gen_augmentation_params(dpa.sample_id_from_key(key), CFG, seed=SEED, epoch=epoch)


@pytest.fixture
def shards(tmp_path) -> list[str]:
    paths = []
    for s in range(2):
        path = str(tmp_path / f"shard-{s:02d}.tar")
        with wds.TarWriter(path) as sink:
            for k in range(PER_SHARD):
                sink.write({"__key__": f"s{s}_{k:03d}", "cls": str(s * PER_SHARD + k).encode()})
        paths.append(path)
    return paths


def pipeline(shards, stage):
    return wds.WebDataset(shards, shardshuffle=False, empty_check=False).decode().compose(stage)


def keys_and_rotations(loader) -> dict[str, float]:
    return {k: float(r) for batch in loader for k, r in zip(batch["__key__"], batch["params"]["rotation"].tolist())}


def test_each_sample_gets_the_params_of_its_key(shards) -> None:
    stage = ParamsStage(CFG, seed=SEED, epoch=3)
    samples = list(pipeline(shards, stage))
    assert len(samples) == 2 * PER_SHARD
    assert all(s["params"] == expected(s["__key__"], 3) for s in samples)
    # Whichever order the shards come in, a sample keeps its params.
    reordered = list(pipeline(list(reversed(shards)), ParamsStage(CFG, seed=SEED, epoch=3)))
    assert {s["__key__"]: s["params"] for s in reordered} == {s["__key__"]: s["params"] for s in samples}


def test_the_epoch_reaches_persistent_workers_and_never_splits_a_pass(shards) -> None:
    stage = ParamsStage(CFG, seed=SEED)
    dataset = pipeline(shards, stage)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, persistent_workers=True)
    all_keys = [f"s{s}_{k:03d}" for s in range(2) for k in range(PER_SHARD)]
    for epoch in range(2):
        stage.set_epoch(epoch)
        assert keys_and_rotations(loader) == {k: expected(k, epoch)["rotation"] for k in all_keys}
    it = iter(loader)
    head = [next(it)]
    stage.set_epoch(7)  # during a pass: the pass keeps its epoch
    assert keys_and_rotations(head + list(it)) == {k: expected(k, 1)["rotation"] for k in all_keys}
    assert keys_and_rotations(loader) == {k: expected(k, 7)["rotation"] for k in all_keys}
    assert find_epoch_aware(loader) == [stage]  # what EpochCallback finds in the pipeline


def test_keys_repeated_across_shards_can_include_the_url(tmp_path) -> None:
    paths = []
    for s in range(2):
        path = str(tmp_path / f"part-{s}.tar")
        with wds.TarWriter(path) as sink:
            sink.write({"__key__": "000", "cls": b"1"})  # the same key in both shards
        paths.append(path)
    plain = [s["params"] for s in pipeline(paths, ParamsStage(CFG, seed=SEED))]
    assert plain[0] == plain[1]
    by_url = list(pipeline(paths, ParamsStage(CFG, seed=SEED, key=("__url__", "__key__"))))
    assert by_url[0]["params"] != by_url[1]["params"]
    assert by_url[0]["params"] == expected(f"{paths[0]}/000")


def test_state_and_refusals() -> None:
    stage = ParamsStage(CFG, seed=SEED, epoch=5)
    fresh = ParamsStage(CFG, seed=SEED)
    fresh.load_state_dict(stage.state_dict())
    assert fresh.epoch == 5
    with pytest.raises(ValueError, match="state does not match this ParamsStage: fingerprint"):
        ParamsStage(dpa.get_preset("moderate"), seed=SEED).load_state_dict(stage.state_dict())
    with pytest.raises(KeyError, match="a sample has no field '__key__'"):
        list(stage([{"cls": 1}]))
    with pytest.raises(TypeError, match="key must be a field name or a tuple of field names"):
        ParamsStage(CFG, key=["__key__"])
