//! The operator's documents stay in step with the metrics: the Grafana dashboard is valid
//! JSON that charts every metric the node exports (and the block histograms), and the
//! runbook explains every one of them.

use executor::node::histograms::HISTOGRAM_NAMES;
use executor::node::metrics::METRIC_NAMES;

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
    for name in METRIC_NAMES.iter().chain(HISTOGRAM_NAMES) {
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
    for name in METRIC_NAMES.iter().chain(HISTOGRAM_NAMES) {
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

/// Every field of `GET /status` (nested ones as `parent.child`, except inside the whole
/// configuration, which the runbook explains as one) is named in the runbook's table.
#[test]
fn the_runbook_explains_every_status_field() {
    use executor::node::Node;
    use executor::slot::{ExecutorConfig, ExecutorSlot};
    use storage_adapter::MemoryStore;

    let config = ExecutorConfig::from_toml_str("network = \"devnet\"").expect("valid config");
    let slot = ExecutorSlot::new(&config).expect("slot");
    let node = Node::new(MemoryStore::new(), slot).expect("node");
    let status = serde_json::to_value(node.status()).expect("status serialises");
    let runbook = read("papers/runbook.md");

    let mut fields = Vec::new();
    for (name, value) in status.as_object().expect("status is an object") {
        match value {
            serde_json::Value::Object(inner) if name != "config" && name != "health" => {
                fields.extend(inner.keys().map(|child| format!("{name}.{child}")));
            }
            _ => fields.push(name.clone()),
        }
    }
    assert!(fields.len() > 10, "status has its fields: {fields:?}");
    for field in fields {
        let leaf = field.rsplit('.').next().expect("a name");
        assert!(
            runbook.contains(&format!("`{field}`")) || runbook.contains(&format!(".{leaf}`")),
            "the runbook does not explain status field `{field}`"
        );
    }
}
