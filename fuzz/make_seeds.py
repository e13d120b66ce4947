#!/usr/bin/env python3
"""Writes the initial seed corpus of `blockstm_vs_oracle`: deterministic pseudo-random byte
strings of various lengths (the decoder turns any bytes into a case). The committed corpus
is these seeds after fuzzing, minimised with `cargo fuzz cmin` (see README.md)."""

import pathlib
import random

out = pathlib.Path(__file__).parent / "corpus" / "blockstm_vs_oracle"
out.mkdir(parents=True, exist_ok=True)
for seed in range(40):
    rng = random.Random(seed)
    length = [60, 120, 200, 300, 450, 700][seed % 6] + rng.randrange(16)
    data = bytes(rng.randrange(256) for _ in range(length))
    (out / f"seed-{seed:02}").write_bytes(data)
