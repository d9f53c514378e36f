"""EpochCallback with a real lightning.Trainer on CPU: epoch e gets epoch e's params, resumed runs continue exactly.

Without the callback, Lightning never calls the dataset's set_epoch: every epoch gets epoch 0's params
(Lightning#20412), and a resumed run's first epoch starts from a fresh dataset at epoch 0.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")
from torch.utils.data import DataLoader  # noqa: E402

import dpa  # noqa: E402
from dpa.data import AugmentedDataset, AugmentedIterableDataset, EpochSampler  # noqa: E402
from dpa.integrations.lightning import EpochCallback  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # Lightning's advice on workers, logging and the like
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CFG = dpa.get_preset("moderate")
N, SEED, BATCH = 40, 21, 8


def reference(epoch: int) -> list[float]:
    return dpa.gen_augmentation_batch(range(N), CFG, seed=SEED, epoch=epoch)["rotation"].tolist()


class Recorder(L.LightningModule):
    """Records (epoch, sample id, rotation) of every item each training step sees."""

    def __init__(self, make_loader, config=CFG) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.make_loader, self.config = make_loader, config
        self.seen: list[tuple[int, int, float]] = []

    def train_dataloader(self):
        return self.make_loader(self.config)

    def training_step(self, batch, batch_idx):
        for ids, params in (batch.values() if isinstance(batch, dict) else [batch]):
            self.seen += [(self.current_epoch, int(i), float(r)) for i, r in zip(ids.tolist(), params["rotation"].tolist())]
        return self.layer(torch.ones(1, 1)).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def trainer(max_epochs: int, tmp_path=None, callbacks=None, every_n_train_steps=None, **kwargs) -> "L.Trainer":
    extra = [] if tmp_path is None else [L.callbacks.ModelCheckpoint(
        dirpath=tmp_path, save_top_k=-1, every_n_train_steps=every_n_train_steps, filename="{epoch}-{step}")]
    return L.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0, callbacks=(callbacks or []) + extra,
                     enable_checkpointing=tmp_path is not None, **kwargs)


def sampler_loader(config):
    ds = AugmentedDataset(list(range(N)), config, seed=SEED)
    return DataLoader(ds, batch_size=BATCH, sampler=EpochSampler(ds), num_workers=2, persistent_workers=True)


def shuffled_loader(config):
    ds = AugmentedDataset(list(range(N)), config, seed=SEED)
    return DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=2, persistent_workers=True)


def stateful_sampler_loader(config):
    from torchdata.stateful_dataloader import StatefulDataLoader

    ds = AugmentedDataset(list(range(N)), config, seed=SEED)
    return StatefulDataLoader(ds, batch_size=BATCH, sampler=EpochSampler(ds), num_workers=2, persistent_workers=True)


def combined_loaders(config):
    """Two loaders in a dict: Lightning wraps them in a CombinedLoader."""
    mapped = AugmentedDataset(list(range(N)), config, seed=SEED)
    streamed = AugmentedIterableDataset(N, config, seed=SEED)
    return {"mapped": DataLoader(mapped, batch_size=BATCH, shuffle=True, num_workers=2, persistent_workers=True),
            "streamed": DataLoader(streamed, batch_size=BATCH, num_workers=2, persistent_workers=True)}


@pytest.mark.parametrize("make_loader", [shuffled_loader, sampler_loader, combined_loaders])
def test_each_epoch_gets_its_own_params_with_persistent_workers(make_loader) -> None:
    model = Recorder(make_loader)
    trainer(3, callbacks=[EpochCallback()]).fit(model)
    refs = [reference(e) for e in range(3)]
    assert {e for e, _, _ in model.seen} == {0, 1, 2}
    assert all(r == refs[e][i] for e, i, r in model.seen)
    for e in range(3):
        assert {i for e2, i, _ in model.seen if e2 == e} == set(range(N))
    if make_loader is not combined_loaders:  # (a CombinedLoader cycles the shorter loader)
        assert len(model.seen) == 3 * N


def test_without_the_callback_lightning_repeats_epoch_0() -> None:
    """What EpochCallback is for (Lightning#20412, with a dpa dataset inside)."""
    model = Recorder(shuffled_loader)
    trainer(2).fit(model)
    ref0 = reference(0)
    assert all(r == ref0[i] for _, i, r in model.seen)


@pytest.mark.parametrize("make_loader", [sampler_loader, shuffled_loader])
def test_a_run_resumed_after_epoch_1_continues_exactly(make_loader, tmp_path) -> None:
    whole = Recorder(make_loader)
    trainer(3, callbacks=[EpochCallback()]).fit(whole)
    first = Recorder(make_loader)
    trainer(2, tmp_path, callbacks=[EpochCallback()]).fit(first)
    (ckpt,) = [p for p in tmp_path.iterdir() if "epoch=1" in p.name]
    assert torch.load(ckpt, weights_only=False)["dpa"]["objects"][0]["fingerprint"] == CFG.fingerprint()
    resumed = Recorder(make_loader)  # a new process would build everything anew: dataset at epoch 0
    trainer(3, callbacks=[EpochCallback()]).fit(resumed, ckpt_path=ckpt)
    assert {e for e, _, _ in resumed.seen} == {2}
    if make_loader is sampler_loader:
        assert resumed.seen == [s for s in whole.seen if s[0] == 2]  # order and params
    else:
        ref = reference(2)  # the order is torch's; the params are epoch 2's
        assert sorted(i for _, i, _ in resumed.seen) == list(range(N))
        assert all(r == ref[i] for _, i, r in resumed.seen)


@pytest.mark.parametrize("make_loader, step", [(stateful_sampler_loader, 2), (shuffled_loader, 7)])
def test_a_run_resumed_from_a_mid_epoch_checkpoint(make_loader, step, tmp_path) -> None:
    """Lightning calls no on_train_epoch_start for the epoch a mid-epoch checkpoint resumes, and makes
    the next epoch's iterator after that hook: the rest of the epoch once kept a fresh dataset's epoch 0,
    and the next epoch got a second pass of the sampler (epoch 2 for epoch 1)."""
    pytest.importorskip("torchdata")
    whole = Recorder(make_loader)
    trainer(2, tmp_path, callbacks=[EpochCallback()], every_n_train_steps=1).fit(whole)
    (ckpt,) = [p for p in tmp_path.iterdir() if p.name.endswith(f"step={step}.ckpt")]
    resumed = Recorder(make_loader)
    trainer(2, callbacks=[EpochCallback()]).fit(resumed, ckpt_path=ckpt)
    refs = [reference(e) for e in range(2)]
    assert resumed.seen and all(r == refs[e][i] for e, i, r in resumed.seen)  # each item: its epoch's params
    if make_loader is stateful_sampler_loader:  # torchdata restores the position: exactly the unbroken run
        assert whole.seen[: step * BATCH] + resumed.seen == whole.seen


def test_reloaded_dataloaders_that_return_the_same_loader() -> None:
    """With reload_dataloaders_every_n_epochs, Lightning makes two iterators per epoch, one before the
    hooks and one after: the first one's pass once made the second the next epoch (epoch e + 1 for e)."""
    loader = sampler_loader(CFG)
    model = Recorder(lambda config: loader)
    trainer(3, callbacks=[EpochCallback()], reload_dataloaders_every_n_epochs=1).fit(model)
    refs = [reference(e) for e in range(3)]
    assert len(model.seen) == 3 * N and all(r == refs[e][i] for e, i, r in model.seen)


def test_a_checkpoint_of_another_config_is_refused(tmp_path) -> None:
    trainer(1, tmp_path, callbacks=[EpochCallback()]).fit(Recorder(sampler_loader))
    (ckpt,) = tmp_path.iterdir()
    other = Recorder(sampler_loader, config=dpa.get_preset("mild"))
    with pytest.raises(ValueError, match=r"this run's dpa object 0 \(AugmentedDataset\).*fingerprint"):
        trainer(2, callbacks=[EpochCallback()]).fit(other, ckpt_path=ckpt)


@pytest.mark.slow  # about 30 s on 2 cores: two processes import Lightning and fit three times
def test_ddp_with_two_processes(tmp_path) -> None:
    """torchrun, gloo, 2 CPU ranks: Lightning's own DistributedSampler, then EpochSampler, then a rank with another seed."""
    import json
    import os
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).with_name("lightning_ddp_script.py")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update({"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    refs = [dpa.gen_augmentation_batch(range(30), CFG, seed=SEED, epoch=e)["rotation"].tolist() for e in range(2)]
    for mode in ("shuffled", "sampler"):
        seen = [s for rank in range(2) for s in json.loads((tmp_path / f"{mode}_rank{rank}.json").read_text())["seen"]]
        for e in range(2):
            ids = sorted(i for e2, i, _ in seen if e2 == e)
            assert ids == list(range(30)), (mode, e)  # the ranks split each epoch exactly (30 = 2 x 15: no padding)
        assert all(r == refs[e][i] for e, i, r in seen), mode
    errors = [json.loads((tmp_path / f"mismatch_rank{rank}.json").read_text())["error"] for rank in range(2)]
    assert errors[0] == errors[1] and "seed: ranks [0] have 21; ranks [1] have 22" in errors[0]


def test_the_readme_lightning_example_runs() -> None:
    """README's Lightning block, on a small dataset, two workers and two epochs."""
    from tests.test_readme import block_starting

    setup = block_starting("from torch.utils.data import DataLoader").split("for epoch in range(10):")[0]
    code = block_starting("import lightning.pytorch as L")
    code = (setup + code).replace("num_workers=4", "num_workers=2").replace("max_epochs=10", "max_epochs=2")
    code = code.replace("L.Trainer(", "L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, "
                                      "accelerator='cpu', ")
    images = torch.rand(20, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    namespace = {"base_dataset": [(images[i], i % 10) for i in range(20)]}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["trainer"].current_epoch == 2
