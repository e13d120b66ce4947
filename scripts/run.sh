#!/usr/bin/env bash
# The main job: `blockstm run` on an embedded RocksDB. Extra arguments go to `blockstm run`
# (see `blockstm run --help`); by default 20 blocks of 10000 p2p transfers over 10000
# accounts on the Block-STM engine, in ./blockstm-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
if [ "$#" -eq 0 ]; then
    set -- --executor block-stm --blocks 20 --block-size 10000 --accounts 10000
fi
cargo run --release -p blockstm-cli --bin blockstm -- run "$@"
