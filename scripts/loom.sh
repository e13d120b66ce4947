#!/usr/bin/env bash
# Runs the loom models: once on the real code, then once per planted bug, where the model
# that guards against that bug must fail (its test is marked `should_panic` under the cfg).
# A separate target directory keeps the `--cfg loom` builds away from the normal ones.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-${HOME}/.cache/tos-blockstm/target-loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"

run() {
    local label=$1 cfg=$2
    shift 2
    echo "== loom models: ${label}"
    RUSTFLAGS="--cfg loom ${cfg}" cargo test --release -p loom-tests --test models -- --test-threads=2 "$@"
}

run "real code" ""
# Each planted bug, with the model that must catch it (run alone: other models may catch it
# too, which is fine, but only this one is marked to expect the failure).
while read -r bug model; do
    run "planted bug ${bug}: ${model} must fail" "--cfg loom_planted_bug=\"${bug}\"" --exact "${model}"
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
skip_estimates mvmemory_deltas_rewritten_as_delta
settle_wait_without_recheck sink_readers_wait_for_the_settled_frontier
PLANTED
