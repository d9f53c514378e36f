"""Quickstart: deterministic augmentation parameters in a few lines.

Run:  python examples/quickstart.py
"""

import dpa

config = dpa.get_preset("moderate")

# One sample: plain Python values, the same on every machine, process and run.
params = dpa.gen_augmentation_params(sample_id=42, config=config, seed=1234, epoch=0)
print("sample 42, epoch 0:", {k: round(v, 4) if isinstance(v, float) else v for k, v in list(params.items())[:6]})

# Many samples at once: a dict of arrays, element k equal to the scalar result.
batch = dpa.gen_augmentation_batch(range(40, 48), config, seed=1234, epoch=0)
assert batch["rotation"][2] == params["rotation"]
print("rotation of ids 40..47:", batch["rotation"].round(2))

# A new epoch gives new parameters; the same epoch always gives the same ones.
print("sample 42, epoch 1 rotation:", round(dpa.gen_augmentation_params(42, config, seed=1234, epoch=1)["rotation"], 4))

# File paths as keys: parameters follow the file, not its position in a list.
sid = dpa.sample_id_from_key("train/cat/0001.jpg")
print("params of train/cat/0001.jpg: hflip =", dpa.gen_augmentation_params(sid, config, seed=1234)["hflip"])

# Your own config, from a dict (or JSON) with the field names you expect.
mine = dpa.AugmentationConfig.from_dict(
    {
        "rotation": {"kind": "uniform", "low": -10, "high": 10},
        "hflip": {"kind": "bernoulli", "p": 0.5},
        "noise_std": {"kind": "uniform", "low": 0.01, "high": 0.05, "p": 0.3, "identity": 0.0},
    }
)
print("custom config fingerprint:", mine.fingerprint())
print(dpa.gen_augmentation_params(7, mine, seed=1))
