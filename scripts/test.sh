#!/usr/bin/env bash
# Every test: the workspace's unit, property, integration and stress tests, the doc tests,
# a build of the benches, then the loom models (real code and each planted bug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
cargo test --release --workspace
cargo bench --workspace --no-run
scripts/loom.sh
