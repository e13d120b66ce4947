#!/usr/bin/env bash
# Memory figures for papers/results.md: the peak RSS of one 10000-transaction block over
# 10000 accounts on each engine (each in a process of its own, on a fresh RocksDB store),
# then the RSS across many blocks, sampled twice a second, of a sequential and a Block-STM
# process: Block-STM's must follow the sequential one's (each block's multi-version
# memory is freed), whatever RocksDB itself holds.
# Usage: scripts/memory.sh [BLOCKS_FOR_THE_FLAT_RUN (default 200)] [THREADS (default 2)]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
blocks=${1:-200}
threads=${2:-2}
cargo build --release -q -p blockstm-cli --bin blockstm
bin="${CARGO_TARGET_DIR}/release/blockstm"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
common=(--workload p2p --accounts 10000 --block-size 10000 --threads "$threads")

echo "== peak RSS, one block of 10000 transactions over 10000 accounts, $threads threads"
for engine in sequential grouping block-stm; do
    # Genesis alone first, so the measured process only executes and commits the block.
    "$bin" run "${common[@]}" --executor "$engine" --blocks 0 --data-dir "$scratch/$engine" >/dev/null
    line=$("$bin" run "${common[@]}" --executor "$engine" --blocks 1 --data-dir "$scratch/$engine" | grep '^memory:')
    printf '%-11s %s\n' "$engine" "$line"
done

# The same run on the sequential oracle too: RocksDB's own memory (memtables, block cache,
# table readers) grows as the chain does, and only the difference is the engine's.
for engine in sequential block-stm; do
    echo "== RSS across $blocks blocks on $engine (MiB, sampled every 0.5 s)"
    "$bin" run "${common[@]}" --executor "$engine" --blocks "$blocks" --data-dir "$scratch/flat-$engine" >"$scratch/flat.out" &
    pid=$!
    samples=()
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$rss" ] && samples+=("$rss")
        sleep 0.5
    done
    wait "$pid"
    n=${#samples[@]}
    echo "samples: $n"
    for pct in 5 10 25 50 75 90 100; do
        i=$(( (n * pct + 99) / 100 - 1 ))
        [ "$i" -lt 0 ] && i=0
        awk -v pct="$pct" -v kib="${samples[$i]}" 'BEGIN { printf "  at %3d%% of the run: %6.1f MiB\n", pct, kib / 1024 }'
    done
    grep -E '^(blocks|throughput|memory):' "$scratch/flat.out"
done
