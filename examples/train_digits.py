"""Train a small CNN on scikit-learn's digits with deterministic augmentation, then save a picture.

Run:  pip install -e ".[torch,examples]" && python examples/train_digits.py [--epochs 8] [--out digits_grid.png]

Uses the 8x8 handwritten digits that ship inside scikit-learn (no download),
upsampled to 32x32 RGB, AugmentedDataset fed by an EpochSampler with
num_workers=2, dpa.apply for the images, and prints accuracy.

Runs again the same, whatever the workers: ``--workers 0``, ``1`` or ``2``
print the same losses to the last digit. The augmentation params are a
function of (seed, epoch, sample id), the EpochSampler's order a function of
(seed, epoch), and nothing draws from torch's global random state after the
model is made (tests/dpa/test_data_train_digits.py checks it). The epoch is
never set by hand: the sampler's k-th pass is epoch k, and its keys carry it
to the workers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

import dpa
from dpa.apply import apply_params
from dpa.data import AugmentedDataset, EpochSampler


class Digits(torch.utils.data.Dataset):
    """scikit-learn's digits as (3, 32, 32) float images in [0, 1], with labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        x = torch.from_numpy(images).float().view(-1, 1, 8, 8) / 16.0
        self.x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1).contiguous()
        self.y = torch.from_numpy(labels).long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def augment(item, params, sample):
    """Apply the params; ``sample`` (id, seed, epoch) makes the noise field of this sample and epoch."""
    image, label = item
    return apply_params(image, params, sample_ids=sample.sample_id, seed=sample.seed, epoch=sample.epoch), label


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


def save_grid(dataset: AugmentedDataset, base: Digits, path: str, n: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, n, figsize=(n * 1.2, 2.6))
    for k in range(n):
        axes[0, k].imshow(base[k][0].permute(1, 2, 0).numpy())
        axes[1, k].imshow(dataset[k][0].permute(1, 2, 0).clamp(0, 1).numpy())
        for row in range(2):
            axes[row, k].axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title(f"dpa, epoch {dataset.epoch}", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def train(train_base: Digits, test_base: Digits, epochs: int, workers: int, seed: int = 0,
          log=print) -> tuple[AugmentedDataset, list[float]]:
    """Train the CNN; return the augmented training set and the loss of every step."""
    torch.manual_seed(seed)  # the model's initial weights: the only use of torch's global random state
    # Flips would turn some digits into others: start from `moderate` and drop them.
    config = dpa.get_preset("moderate").without("hflip")
    train_set = AugmentedDataset(train_base, config, seed=seed, transform=augment)
    # EpochSampler: a new epoch each pass, in an order made from (seed, epoch) by dpa's hash. The
    # loader gets its own generator so that making an iterator never draws from the global state
    # (it draws a worker seed once per iterator: once with persistent workers, once per epoch without).
    loader = DataLoader(train_set, batch_size=64, sampler=EpochSampler(train_set), num_workers=workers,
                        persistent_workers=workers > 0, generator=torch.Generator())
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses: list[float] = []
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            pred = model(test_base.x).argmax(1)
        acc = (pred == test_base.y).float().mean().item()
        log(f"epoch {epoch}: loss {losses[-1]:.6f}, test accuracy {acc:.3f}")
    return train_set, losses


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="digits_grid.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from sklearn.datasets import load_digits  # pip install -e ".[torch,examples]" (after --help: it needs none)

    data = load_digits()
    order = np.random.default_rng(args.seed).permutation(len(data.target))
    split = int(0.8 * len(order))
    train_base = Digits(data.images[order[:split]], data.target[order[:split]])
    test_base = Digits(data.images[order[split:]], data.target[order[split:]])

    t0 = time.perf_counter()
    train_set, _ = train(train_base, test_base, args.epochs, args.workers, args.seed)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - t0:.1f} s with {args.workers} workers")
    train_set.set_epoch(args.epochs - 1)  # the picture shows the last epoch's augmentations
    save_grid(train_set, train_base, args.out)
    print(f"saved {args.out}: originals (top) and their epoch-{train_set.epoch} augmentations (bottom)")


if __name__ == "__main__":
    main()
