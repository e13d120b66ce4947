//! The operator's documents stay in step with the metrics: the Grafana dashboard is valid
//! JSON that charts every metric the node exports (and the block histograms), and the
//! runbook explains every one of them.

use executor::node::metrics::METRIC_NAMES;

/// The per-block histograms the dashboard charts beside the node's counters.
const HISTOGRAMS: [&str; 4] = [
    "blockstm_block_execute_seconds",
    "blockstm_block_commit_seconds",
    "blockstm_block_transactions",
    "blockstm_block_parallelism",
];

fn read(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::fs::read_to_string(format!("{root}/{path}")).expect("the document exists")
}

/// Every query of every panel.
fn queries(dashboard: &serde_json::Value) -> Vec<String> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().expect("a query").to_owned());
        }
    }
    queries
}

#[test]
fn the_dashboard_charts_every_metric() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("ops/grafana-dashboard.json")).expect("valid JSON");
    assert!(dashboard["title"].is_string());
    let queries = queries(&dashboard);
    for name in METRIC_NAMES.iter().chain(&HISTOGRAMS) {
        assert!(
            queries.iter().any(|query| query.contains(name)),
            "no panel queries `{name}`"
        );
    }
    let ids: Vec<_> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .map(|panel| panel["id"].as_u64().expect("an id"))
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "panel ids are unique");
}

#[test]
fn the_runbook_explains_every_metric() {
    let runbook = read("papers/runbook.md");
    for name in METRIC_NAMES.iter().chain(&HISTOGRAMS) {
        assert!(
            runbook.contains(name),
            "the runbook does not mention `{name}`"
        );
    }
    for section in [
        "Rolling out",
        "Low speedup",
        "A mismatch",
        "An open breaker",
        "A failed block",
    ] {
        assert!(runbook.contains(section), "no section `{section}`");
    }
}
