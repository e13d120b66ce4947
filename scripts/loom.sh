#!/usr/bin/env bash
# Runs the loom models: once on the real code, then each planted bug with the model that
# guards against it, which must fail (see the `planted` crate). One build serves every
# run: the bug is chosen at run time by LOOM_PLANTED_BUG, not by a compiler flag.
# A separate target directory keeps the `--cfg loom` build away from the normal ones.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-${HOME}/.cache/tos-blockstm/target-loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export RUSTFLAGS="--cfg loom"
models() {
    cargo test --release -p loom-tests --test models -- --test-threads=2 "$@"
}

echo "== loom models: real code"
LOOM_PLANTED_BUG="" models

# Each planted bug, with the model that must catch it (run alone: other models may catch it
# too, which is fine). A failure is a failed test in an otherwise good run; the build was
# already checked above, so a failure here cannot be a compile error.
failures=0
while read -r bug model; do
    echo "== loom models: planted bug ${bug}: ${model} must fail"
    if output=$(LOOM_PLANTED_BUG="$bug" models --exact "$model" 2>&1); then
        echo "$output" | tail -n 5
        echo "loom: the model ${model} did not catch the planted bug ${bug}" >&2
        failures=$((failures + 1))
    elif grep -q "^test ${model} \.\.\. FAILED" <<<"$output"; then
        echo "caught: ${model} failed with ${bug} planted"
    else
        echo "$output" | tail -n 20
        echo "loom: running ${model} with ${bug} planted failed without the model failing" >&2
        failures=$((failures + 1))
    fi
done <<'PLANTED'
done_ignores_commit scheduler_counters
done_ignores_commit claims_of_two_commit_everything
skip_dependency_resume dependencies_always_resume
commit_without_validation rolling_commit_in_order_after_validation
execution_counts_as_late_validation rolling_commit_in_order_after_validation
fold_at_execution fee_totals_come_from_final_incarnations
commit_after_sink_failure nothing_reaches_a_failed_sink
reward_in_transaction miner_reward_applied_exactly_once
skip_estimates mvmemory_one_key
id_table_blind_store id_table_one_id_per_key
skip_estimates mvmemory_deltas_rewritten_as_delta
settle_wait_without_recheck sink_readers_wait_for_the_settled_frontier
frontier_run_without_epoch frontier_runs_beside_speculation
frontier_run_unpublished frontier_runs_beside_speculation
PLANTED
if [ "$failures" -gt 0 ]; then
    echo "loom: ${failures} planted bug(s) not caught" >&2
    exit 1
fi
echo "loom: every planted bug was caught"
