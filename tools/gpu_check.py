"""Check the torch backend on CUDA against numpy, bit for bit, and time it.

Run on a machine with a GPU:  python tools/gpu_check.py [--n 16000000]
Prints one line per preset: bit-exact or the first mismatch, and samples/s
of gen_augmentation_batch(backend="torch", device="cuda") (best of 5, after
a warm-up, synchronised), beside the numpy backend on one CPU core.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import dpa


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16_000_000)
    ap.add_argument("--check-n", type=int, default=2_000_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0)}, numpy {np.__version__}")
    rng = np.random.default_rng(0)
    edge = np.array([0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1], dtype=np.uint64)
    ids = np.concatenate([edge, rng.integers(0, 2**64, args.check_n, dtype=np.uint64, endpoint=False)])
    for preset in dpa.preset_names():
        cfg = dpa.get_preset(preset)
        for seed, epoch in ((0, 0), (2**64 - 1, 2**32 - 1), (1234, 5)):
            ref = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch)
            got = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch, backend="torch", device="cuda")
            bad = [name for name in ref if not np.array_equal(got[name].cpu().numpy(), ref[name])]
            print(f"{preset:10s} seed={seed} epoch={epoch}: {'bit-exact' if not bad else 'MISMATCH in ' + ', '.join(bad)}"
                  f" over {len(ids)} ids")
        big = torch.arange(args.n, dtype=torch.int64, device="cuda")
        dpa.gen_augmentation_batch(big[:1000], cfg, backend="torch", device="cuda")
        times = []
        for _ in range(5):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            dpa.gen_augmentation_batch(big, cfg, backend="torch", device="cuda")
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        cpu_ids = np.arange(1 << 20, dtype=np.uint64)
        cpu_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            dpa.gen_augmentation_batch(cpu_ids, cfg)
            cpu_times.append(time.perf_counter() - t0)
        print(f"{preset:10s} cuda: {args.n / min(times) / 1e6:8.1f} M samples/s   numpy 1 core: "
              f"{len(cpu_ids) / min(cpu_times) / 1e6:6.2f} M samples/s")
    # The building blocks on their own: sqrt and division must be IEEE on the GPU.
    x = torch.from_numpy(rng.uniform(0, 1e3, 10_000_000))
    y = torch.from_numpy(rng.uniform(1e-3, 1e3, 10_000_000))
    xs, ys = x.cuda(), y.cuda()
    print("cuda sqrt == numpy sqrt:", bool((torch.sqrt(xs).cpu() == torch.from_numpy(np.sqrt(x.numpy()))).all()))
    print("cuda div  == numpy div :", bool(((xs / ys).cpu() == torch.from_numpy(x.numpy() / y.numpy())).all()))
    print("cpu torch.sqrt == numpy sqrt:", bool((torch.sqrt(x) == torch.from_numpy(np.sqrt(x.numpy()))).all()))


if __name__ == "__main__":
    main()
