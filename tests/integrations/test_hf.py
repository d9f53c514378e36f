"""dpa.integrations.hf on small HuggingFace datasets the test writes itself (no network)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")
from torch.utils.data import DataLoader  # noqa: E402

import dpa  # noqa: E402
from dpa.epochs import find_epoch_aware  # noqa: E402
from dpa.integrations.hf import INDEX_COLUMN, ParamsTransform  # noqa: E402

CFG = dpa.get_preset("mild")
SEED = 8
ROWS = [{"image_id": f"img_{k:03d}.png", "number": 1000 + 7 * k, "label": k % 3} for k in range(24)]


def expected(sample_id: int, epoch: int = 0) -> dict:
    return dpa.gen_augmentation_params(sample_id, CFG, seed=SEED, epoch=epoch)


@pytest.fixture
def json_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


def load(json_file, tmp_path, **kwargs):
    return datasets.load_dataset("json", data_files=json_file, split="train", cache_dir=str(tmp_path / "cache"), **kwargs)


def test_rows_keyed_by_a_string_or_an_integer_id_column(json_file, tmp_path) -> None:
    ds = load(json_file, tmp_path)
    by_name = ParamsTransform(CFG, seed=SEED, id_column="image_id").apply(ds)
    by_number = ds.with_transform(ParamsTransform(CFG, seed=SEED, id_column="number"))  # with_transform directly
    for k in (0, 5, 23):
        assert by_name[k]["params"] == expected(dpa.sample_id_from_key(ROWS[k]["image_id"]))
        assert by_number[k]["params"] == expected(ROWS[k]["number"])
        assert by_name[k]["label"] == ROWS[k]["label"]
    # Params follow the id, not the position: shuffled or filtered, each row keeps its own.
    shuffled = ParamsTransform(CFG, seed=SEED, id_column="image_id").apply(ds.shuffle(seed=3).select(range(10)))
    for row in shuffled:
        assert row["params"] == expected(dpa.sample_id_from_key(row["image_id"]))


def test_rows_keyed_by_their_index(json_file, tmp_path) -> None:
    ds = ParamsTransform(CFG, seed=SEED).apply(load(json_file, tmp_path))
    assert ds[7]["params"] == expected(7)
    assert INDEX_COLUMN not in ds[7]
    assert ds[2:4]["params"] == [expected(2), expected(3)]


def test_the_shared_epoch_reaches_persistent_workers(json_file, tmp_path) -> None:
    params = ParamsTransform(CFG, seed=SEED, id_column="number")
    ds = params.apply(load(json_file, tmp_path))
    loader = DataLoader(ds, batch_size=5, num_workers=2, persistent_workers=True)
    for epoch in range(2):
        params.set_epoch(epoch)
        rotations = {int(n): float(r) for batch in loader
                     for n, r in zip(batch["number"].tolist(), batch["params"]["rotation"].tolist())}
        assert rotations == {r["number"]: expected(r["number"], epoch)["rotation"] for r in ROWS}
    assert find_epoch_aware(loader) == [params]  # what EpochCallback finds behind with_transform


def test_a_streaming_dataset(json_file, tmp_path) -> None:
    stream = load(json_file, tmp_path, streaming=True)
    by_name = list(ParamsTransform(CFG, seed=SEED, epoch=2, id_column="image_id").apply(stream))
    assert [r["params"] for r in by_name] == [expected(dpa.sample_id_from_key(r["image_id"]), 2) for r in ROWS]
    by_position = list(ParamsTransform(CFG, seed=SEED).apply(stream))
    assert [r["params"] for r in by_position] == [expected(k) for k in range(len(ROWS))]


def test_state_and_refusals() -> None:
    t = ParamsTransform(CFG, seed=SEED, epoch=4, id_column="image_id")
    fresh = ParamsTransform(CFG, seed=SEED, id_column="image_id")
    fresh.load_state_dict(t.state_dict())
    assert fresh.epoch == 4
    with pytest.raises(ValueError, match="state does not match this ParamsTransform: id_column 'image_id' != 'number'"):
        ParamsTransform(CFG, seed=SEED, id_column="number").load_state_dict(t.state_dict())
    with pytest.raises(KeyError, match="the batch has no column 'image_id'"):
        t({"name": ["a"]})
    with pytest.raises(KeyError, match="use ParamsTransform.apply"):
        ParamsTransform(CFG)({"name": ["a"]})
    with pytest.raises(TypeError, match="id column 'image_id' must hold integers in \\[0, 2\\*\\*64\\) or strings; got 1.5"):
        t({"image_id": [1.5]})
    with pytest.raises(ValueError, match="image_id value must be in \\[0, 2\\*\\*64\\)"):
        t({"image_id": [-1]})
    with pytest.raises(TypeError, match="id_column must be a column name"):
        ParamsTransform(CFG, id_column=3)
    with pytest.raises(TypeError, match="dataset must be a datasets.Dataset"):
        t.apply([1, 2])


def test_the_readme_streaming_example_runs() -> None:
    from tests.test_readme import block_starting

    code = block_starting("from dpa.integrations.hf import ParamsTransform")
    namespace = {"dpa": dpa, "hf_dataset": datasets.Dataset.from_dict({"image_id": ["a.jpg", "b.jpg"], "label": [0, 1]})}
    exec(compile(code, "README.md", "exec"), namespace)
    moderate = dpa.get_preset("moderate")
    assert namespace["train"][1]["params"] == dpa.gen_augmentation_params(dpa.sample_id_from_key("b.jpg"), moderate, epoch=1)
    assert namespace["samples"][0]["params"] == dpa.gen_augmentation_params(
        dpa.sample_id_from_key("n01440764_10026"), moderate)


def test_stream_positions_split_across_workers_are_refused(json_file, tmp_path) -> None:
    # Each DataLoader worker reads its own shards of a stream and counts positions from 0: keyed by
    # position, 24 rows once got 12 distinct params, and which ones depended on the worker count.
    stream = datasets.Dataset.from_list(ROWS).to_iterable_dataset(num_shards=4)
    by_position = ParamsTransform(CFG, seed=SEED).apply(stream)
    assert [r["params"] for r in DataLoader(by_position, batch_size=None)] == [expected(k) for k in range(24)]
    with pytest.raises(ValueError, match="stream position.*2 DataLoader workers.*id_column"):
        list(DataLoader(by_position, batch_size=None, num_workers=2))
    by_name = ParamsTransform(CFG, seed=SEED, id_column="image_id").apply(stream)  # an id column: any workers
    rows = list(DataLoader(by_name, batch_size=None, num_workers=2))
    assert sorted(r["image_id"] for r in rows) == sorted(r["image_id"] for r in ROWS)
    assert all(r["params"] == expected(dpa.sample_id_from_key(r["image_id"])) for r in rows)


def test_epoch_callback_finds_the_transform_of_a_streaming_dataset() -> None:
    # EpochCallback walks find_epoch_aware: a streaming dataset's map() function was not on its path.
    params = ParamsTransform(CFG, seed=SEED, id_column="image_id")
    stream = params.apply(datasets.Dataset.from_list(ROWS).to_iterable_dataset(num_shards=2))
    assert find_epoch_aware(DataLoader(stream, batch_size=4)) == [params]
    assert find_epoch_aware(DataLoader(stream.shuffle(seed=0, buffer_size=4).with_format("torch"))) == [params]


def test_apply_without_the_datasets_package_says_what_to_install(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"needs HuggingFace datasets: pip install 'dpa\[hf\]'"):
        ParamsTransform(CFG, id_column="image_id").apply([])
