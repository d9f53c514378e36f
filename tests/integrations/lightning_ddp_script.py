"""Run by tests/integrations/test_lightning.py under torchrun: a 2-process DDP fit on CPU with EpochCallback.

    python -m torch.distributed.run --standalone --nproc_per_node=2 lightning_ddp_script.py OUT_DIR

Three fits in the same two processes: ``shuffled``, a plain shuffled DataLoader (Lightning injects
its DistributedSampler); ``sampler``, EpochSampler (Lightning keeps it); ``mismatch``, rank 1 uses
another seed. Each rank writes what its training steps saw (or the error it raised) to
OUT_DIR/<mode>_rank<r>.json.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import warnings

import lightning.pytorch as L
import torch
from torch.utils.data import DataLoader

import dpa
from dpa.data import AugmentedDataset, EpochSampler
from dpa.distributed import RankMismatchError
from dpa.integrations.lightning import EpochCallback

N, SEED, BATCH, EPOCHS = 30, 21, 4, 2
warnings.filterwarnings("ignore")


class Recorder(L.LightningModule):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.mode = mode
        self.seen: list = []

    def train_dataloader(self):
        seed = SEED + 1 if self.mode == "mismatch" and self.global_rank == 1 else SEED
        ds = AugmentedDataset(list(range(N)), dpa.get_preset("moderate"), seed=seed)
        if self.mode == "sampler":
            return DataLoader(ds, batch_size=BATCH, sampler=EpochSampler(ds), num_workers=1, persistent_workers=True)
        return DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=1, persistent_workers=True)

    def training_step(self, batch, batch_idx):
        ids, params = batch
        self.seen += [(self.current_epoch, int(i), float(r)) for i, r in zip(ids.tolist(), params["rotation"].tolist())]
        return self.layer(torch.ones(1, 1)).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(out: pathlib.Path, mode: str, rank: int) -> None:
    model = Recorder(mode)
    trainer = L.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=2, strategy="ddp", logger=False,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                        num_sanity_val_steps=0, callbacks=[EpochCallback()])
    try:
        trainer.fit(model)
    except RankMismatchError as exc:
        (out / f"{mode}_rank{rank}.json").write_text(json.dumps({"error": str(exc)}))
        return
    (out / f"{mode}_rank{rank}.json").write_text(json.dumps({"seen": model.seen}))


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    rank = int(os.environ["RANK"])
    for mode in ("shuffled", "sampler", "mismatch"):
        fit(out, mode, rank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
