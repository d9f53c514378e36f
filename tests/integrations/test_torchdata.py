"""torchdata's StatefulDataLoader: stop mid-epoch, restart everything, resume -- the same (id, params) sequence.

Each run builds a fresh dataset, sampler and loader, as a restarted process
would; the state crosses the "restart" pickled. Real worker processes.
"""

from __future__ import annotations

import pickle

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchdata")
from torchdata.stateful_dataloader import StatefulDataLoader  # noqa: E402
from torchdata.stateful_dataloader.sampler import BatchSampler  # noqa: E402

import dpa  # noqa: E402
from dpa.data import AugmentedDataset, AugmentedIterableDataset, EpochSampler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:'set_vital' is deprecated:UserWarning")

CFG = dpa.get_preset("moderate")
N, SEED, EPOCHS, BATCH = 45, 13, 3, 4
STOP = (1, 5)  # stop after the 6th batch of epoch 1


class Ids(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> int:
        return i


def build(kind: str, workers: int, config=CFG):
    """A fresh dataset and loader, as a restarted process builds them."""
    if kind == "iterable":
        ds = AugmentedIterableDataset(N, config, seed=SEED, chunk_size=8)
        return ds, StatefulDataLoader(ds, batch_size=BATCH, num_workers=workers)
    ds = AugmentedDataset(Ids(), config, seed=SEED)
    if kind == "batch_sampler":  # torchdata's BatchSampler saves the EpochSampler's state (torch's has none)
        batches = BatchSampler(EpochSampler(ds), BATCH, drop_last=False)
        return ds, StatefulDataLoader(ds, batch_sampler=batches, num_workers=workers)
    if kind == "sampler":
        return ds, StatefulDataLoader(ds, batch_size=BATCH, sampler=EpochSampler(ds), num_workers=workers)
    # A plain shuffled loader, in a process seeded at start. (Not generator=: torchdata restores that
    # generator to before the interrupted epoch's permutation, but the loader had also drawn its
    # worker base seed from it, so the epochs after a resumed one come in another order.)
    torch.manual_seed(5)
    return ds, StatefulDataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=workers)


def run(kind: str, workers: int, stop: tuple[int, int | str] | None = None, resume: bytes | None = None):
    """(epoch, sample id, params) of every item; with ``stop``, also the pickled checkpoint taken there.

    ``stop=(e, k)`` checkpoints after batch k of epoch e; ``(e, "end")`` after epoch e's loop ended;
    ``(e, "start")`` after the loop's ``set_epoch(e)``, before epoch e's first batch.
    """
    ds, loader = build(kind, workers)
    first, mid_epoch = 0, False
    if resume is not None:
        checkpoint = pickle.loads(resume)
        loader.load_state_dict(checkpoint["loader"])
        first, mid_epoch = checkpoint["epoch"], checkpoint["mid_epoch"]
    seen = []
    for epoch in range(first, EPOCHS):
        # The user's loop calls set_epoch where it must (not with EpochSampler), except on an
        # interrupted epoch: the fresh dataset starts at epoch 0, and the loader's state restores it.
        if kind in ("shuffle", "iterable") and not (mid_epoch and epoch == first):
            ds.set_epoch(epoch)
        if (epoch, "start") == stop:
            return seen, pickle.dumps({"loader": loader.state_dict(), "epoch": epoch, "mid_epoch": False})
        for k, (ids, params) in enumerate(loader):
            seen += [(epoch, int(i), float(r), bool(f)) for i, r, f in
                     zip(ids.tolist(), params["rotation"].tolist(), params["hflip"].tolist())]
            if (epoch, k) == stop:
                return seen, pickle.dumps({"loader": loader.state_dict(), "epoch": epoch, "mid_epoch": True})
        if (epoch, "end") == stop:
            return seen, pickle.dumps({"loader": loader.state_dict(), "epoch": epoch + 1, "mid_epoch": False})
    return seen, None


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", ["shuffle", "sampler", "iterable", "batch_sampler"])
def test_resuming_mid_epoch_gives_the_uninterrupted_sequence(kind: str, workers: int) -> None:
    whole, _ = run(kind, workers)
    head, checkpoint = run(kind, workers, stop=STOP)
    rest, _ = run(kind, workers, resume=checkpoint)
    assert len(head) == (N * STOP[0] + BATCH * (STOP[1] + 1)) and len(whole) == N * EPOCHS
    assert head + rest == whole
    # and the params are those of each item's epoch
    ref = {e: dpa.gen_augmentation_batch(range(N), CFG, seed=SEED, epoch=e)["rotation"].tolist() for e in range(EPOCHS)}
    assert all(r == ref[e][i] for e, i, r, _ in whole)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_state_from_another_config_is_refused(workers: int) -> None:
    _, checkpoint = run("sampler", workers, stop=STOP)
    _, loader = build("sampler", workers, config=dpa.get_preset("mild"))
    loader.load_state_dict(pickle.loads(checkpoint)["loader"])
    with pytest.raises(ValueError, match="state does not match this AugmentedDataset: fingerprint"):
        next(iter(loader))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("stop", [(1, 11), (1, "end")])  # after the last batch of epoch 1; after its loop ended
def test_resuming_at_an_epoch_boundary_starts_the_next_epoch(stop, workers: int) -> None:
    whole, _ = run("sampler", workers)
    head, checkpoint = run("sampler", workers, stop=stop)
    rest, _ = run("sampler", workers, resume=checkpoint)
    assert len(head) == 2 * N and head + rest == whole


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", ["shuffle", "iterable"])
def test_a_loop_that_sets_the_epoch_resumes_at_an_epoch_boundary_with_its_epoch(kind: str, workers: int) -> None:
    # The loader's state holds the datasets' states of the epoch that ended (the workers' last
    # snapshots); torchdata loads them when the next pass starts, after the loop's set_epoch for
    # it, which they once overrode: the whole next epoch had the ended epoch's params.
    whole, _ = run(kind, workers)
    for stop in [(1, "end"), (2, "start")]:
        head, checkpoint = run(kind, workers, stop=stop)
        rest, _ = run(kind, workers, resume=checkpoint)
        assert len(head) == 2 * N and head + rest == whole, stop


def test_the_readme_resume_example_runs() -> None:
    """README's torchdata block: the resumed loader continues the saved pass."""
    from tests.test_readme import block_starting

    setup = block_starting("from torch.utils.data import DataLoader").split("for epoch in range(10):")[0]
    code = setup + block_starting("from torchdata.stateful_dataloader import StatefulDataLoader")
    code = code.replace("num_workers=4, persistent_workers=True", "num_workers=0").replace("num_workers=4", "num_workers=0")
    code = code.replace("batch_size=64", "batch_size=4")
    # Take the state after two batches, as a training loop would mid-epoch.
    code = code.replace("state = loader.state_dict()", "it = iter(loader); head = [next(it), next(it)]\nstate = loader.state_dict()")
    images = torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    namespace = {"base_dataset": [(images[i], i) for i in range(10)]}
    exec(compile(code, "README.md", "exec"), namespace)
    rest = [labels.tolist() for _, labels in namespace["resumed"]]
    order = namespace["EpochSampler"](namespace["ds"]).indices(0)[0].tolist()
    assert [x for _, labels in namespace["head"] for x in labels.tolist()] + [x for r in rest for x in r] == order
