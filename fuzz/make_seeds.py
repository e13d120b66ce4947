#!/usr/bin/env python3
"""Writes the initial seed corpus of `blockstm_vs_oracle`: deterministic pseudo-random byte
strings of various lengths (the decoder turns any bytes into a case). The committed corpus
is these seeds after fuzzing, minimised with `cargo fuzz cmin` (see README.md).

`corrupt-NN` seeds are pseudo-random too, but with one account's multisig byte set so that
one of its keys holds a value of the wrong kind (corrupt state; see `tests/src/fuzz_case.rs`):
the fuzzer rarely makes that byte on its own in a long input, and it decides whether the
block is rejected (`InvalidState`) or valid with corrupt state that only speculation reads."""

import pathlib
import random

out = pathlib.Path(__file__).parent / "corpus" / "blockstm_vs_oracle"
out.mkdir(parents=True, exist_ok=True)
for seed in range(40):
    rng = random.Random(seed)
    length = [60, 120, 200, 300, 450, 700][seed % 6] + rng.randrange(16)
    data = bytes(rng.randrange(256) for _ in range(length))
    (out / f"seed-{seed:02}").write_bytes(data)


def balance_length(mode):
    """Bytes a starting balance takes, its mode byte included (see `balance`)."""
    return {12: 1, 13: 1, 14: 2, 15: 9}.get(mode % 16, 2)


def multisig_offsets(data):
    """Offsets of each account's multisig byte, as the decoder reads the header and accounts."""
    accounts = 2 + (data[0] // 3) % 7
    position = 4  # shape, miner, reward, chain flags
    offsets = []
    for _ in range(accounts):
        position += 1  # nonce
        for _ in range(3):
            position += balance_length(data[position])
        offsets.append(position)
        position += 1
    return offsets


for seed in range(16):
    rng = random.Random(1_000 + seed)
    length = [120, 200, 300, 450][seed % 4] + rng.randrange(16)
    data = bytearray(rng.randrange(256) for _ in range(length))
    offsets = multisig_offsets(data)
    # The multisig byte 30 modulo 32; its top three bits pick the corrupt key and value.
    data[offsets[seed % len(offsets)]] = (seed % 8) << 5 | 30
    (out / f"corrupt-{seed:02}").write_bytes(bytes(data))

# The speculative-only case of `tests/blockstm_fallback.rs`: account 0's balance of asset 1
# holds a nonce; its multisig removal comes first, then a transfer of asset 1 that reuses
# nonce 0, so in block order the transfer fails on its nonce before reading the corrupt
# balance, while an incarnation that runs before the removal is recorded reads it. Seven
# other accounts' payments keep the workers busy (4 threads, 8 accounts).
data = bytearray([20, 10, 0, 0])  # 4 threads, 8 accounts; an outsider mines
for account in range(8):
    multisig = 4 << 5 | 30 if account == 0 else 0  # corrupt: a nonce at a balance key
    data += bytes([0, 0x10, 0, 0x10, 0, 0x10, 0, multisig])
data += bytes([5, 0, 0, 0])  # account 0 removes its multisig configuration
data += bytes([0, 14, 0, 0x11, 0])  # account 0, nonce 0 again: 1 of asset 1 to account 1
for sender in range(1, 8):
    data += bytes([sender << 3, 0, 1, 0x08, 4])  # a small TOS payment to an outsider
(out / "corrupt-speculative").write_bytes(bytes(data))
