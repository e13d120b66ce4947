//! The node's statistics in the Prometheus text format, and a small HTTP server that
//! serves them (`blockstm run --metrics-addr`) beside the [admin API](super::admin).
//!
//! Metrics are built from a [`NodeStats`] snapshot at each scrape rather than kept in a
//! registry beside it: the node has one source of truth, and a scrape is rare next to
//! blocks.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, Opts, TextEncoder};
use storage_adapter::BlockStore;

use super::histograms::BlockHistograms;
use super::{Node, NodeStats};

/// Every metric name this module exports, for tests and dashboards.
pub const METRIC_NAMES: &[&str] = &[
    "tos_node_topoheight",
    "tos_node_blocks_total",
    "tos_node_transactions_total",
    "tos_node_successful_transactions_total",
    "tos_node_engine_seconds_total",
    "tos_node_commit_seconds_total",
    "tos_executor_blocks_total",
    "tos_executor_shadow_compared_total",
    "tos_executor_shadow_mismatches_total",
    "tos_executor_fallbacks_total",
    "tos_executor_capsules_written_total",
    "tos_executor_breaker_trips_total",
    "tos_executor_breaker_open",
    "tos_executor_parallel_transactions_total",
    "tos_executor_incarnations_total",
    "tos_executor_validations_total",
    "tos_executor_aborts_total",
    "tos_executor_dependency_waits_total",
    "tos_executor_hint_waits_total",
    "tos_executor_delta_writes_total",
    "tos_executor_delta_saves_total",
    "tos_executor_delta_reads_total",
    "tos_executor_predicate_reads_total",
    "tos_executor_predicate_saves_total",
    "tos_executor_exact_reexecutions_total",
    "tos_executor_settle_waits_total",
    "tos_executor_incarnations_per_transaction",
];

/// `stats` in the Prometheus text exposition format (version 0.0.4).
pub fn render(stats: &NodeStats) -> String {
    encode(&families(stats))
}

/// `stats` and the per-block `histograms` in the Prometheus text exposition format.
pub fn render_with_histograms(stats: &NodeStats, histograms: &BlockHistograms) -> String {
    let mut families = families(stats);
    families.extend(histograms.collect());
    encode(&families)
}

fn encode(families: &[MetricFamily]) -> String {
    let mut text = Vec::new();
    // Encoding into a Vec only fails on metric families the crate itself built wrongly.
    if let Err(error) = TextEncoder::new().encode(families, &mut text) {
        tracing::warn!(%error, "encoding the metrics failed");
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The counters and gauges of `stats`.
fn families(stats: &NodeStats) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        // Names and help are constants of this module, so `new` cannot fail; a metric
        // that somehow could not be built is left out rather than failing the scrape.
        if let Ok(metric) = IntCounter::new(name, help) {
            metric.inc_by(value);
            families.extend(metric.collect());
        }
    };
    counter("tos_node_blocks_total", "Blocks applied.", stats.blocks);
    counter(
        "tos_node_transactions_total",
        "Transactions in the applied blocks.",
        stats.transactions,
    );
    counter(
        "tos_node_successful_transactions_total",
        "Applied transactions that succeeded.",
        stats.successful_transactions,
    );
    let slot = &stats.slot;
    let parallel = &stats.parallel;
    // Block-STM's own counters; zero when the configured engine is another.
    let block_stm = parallel.block_stm.unwrap_or_default();
    for (name, help, value) in [
        (
            "tos_executor_shadow_compared_total",
            "Blocks compared in shadow mode.",
            slot.shadow_compared,
        ),
        (
            "tos_executor_shadow_mismatches_total",
            "Shadow comparisons where the engine differed from the oracle.",
            slot.shadow_mismatches,
        ),
        (
            "tos_executor_fallbacks_total",
            "Blocks on which the parallel engine fell back to sequential.",
            slot.fallbacks,
        ),
        (
            "tos_executor_capsules_written_total",
            "Mismatch and fallback capsules written to the capsule directory.",
            slot.capsules_written,
        ),
        (
            "tos_executor_breaker_trips_total",
            "Times the circuit breaker opened.",
            slot.breaker_trips,
        ),
        (
            "tos_executor_parallel_transactions_total",
            "Transactions run by the parallel engine (alone or as shadow candidate).",
            parallel.transactions,
        ),
        (
            "tos_executor_incarnations_total",
            "Parallel engine executions (incarnations), re-executions included.",
            parallel.executions,
        ),
        (
            "tos_executor_validations_total",
            "Parallel engine read-set validations.",
            block_stm.validations,
        ),
        (
            "tos_executor_aborts_total",
            "Parallel engine incarnations aborted by a failed validation.",
            block_stm.aborts,
        ),
        (
            "tos_executor_dependency_waits_total",
            "Times a transaction waited on an unfinished dependency.",
            block_stm.dependency_waits,
        ),
        (
            "tos_executor_hint_waits_total",
            "Times a transaction waited, before starting, for its sender's previous transaction (nonce hint).",
            block_stm.hint_waits,
        ),
        (
            "tos_executor_delta_writes_total",
            "Block-STM deltas committed (a transaction's change to a hot balance).",
            block_stm.delta_writes,
        ),
        (
            "tos_executor_delta_saves_total",
            "Committed deltas whose balance a lower transaction changed after they were recorded (aborts avoided).",
            block_stm.delta_saves,
        ),
        (
            "tos_executor_delta_reads_total",
            "Block-STM reads resolved by summing deltas.",
            block_stm.delta_reads,
        ),
        (
            "tos_executor_predicate_reads_total",
            "Block-STM debits checked as balance-at-least predicates.",
            block_stm.predicate_reads,
        ),
        (
            "tos_executor_predicate_saves_total",
            "Validations a predicate passed although the balance had changed (aborts avoided).",
            block_stm.predicate_saves,
        ),
        (
            "tos_executor_exact_reexecutions_total",
            "Transactions run again without deltas because a delta did not fit at commit.",
            block_stm.exact_reexecutions,
        ),
        (
            "tos_executor_settle_waits_total",
            "Executions suspended until every lower transaction committed (reads of balances settled at commit).",
            block_stm.settle_waits,
        ),
    ] {
        counter(name, help, value);
    }
    if let Ok(blocks) = IntCounterVec::new(
        Opts::new(
            "tos_executor_blocks_total",
            "Blocks executed by the slot, by path.",
        ),
        &["path"],
    ) {
        for (path, value) in [
            ("below_threshold", slot.below_threshold),
            ("breaker_open", slot.breaker_skipped),
            ("engine", slot.engine_blocks),
            ("shadow", slot.shadow_compared),
        ] {
            blocks.with_label_values(&[path]).inc_by(value);
        }
        families.extend(blocks.collect());
    }
    let mut seconds = |name: &str, help: &str, value: f64| {
        if let Ok(metric) = Counter::new(name, help) {
            metric.inc_by(value);
            families.extend(metric.collect());
        }
    };
    seconds(
        "tos_node_engine_seconds_total",
        "Seconds spent executing blocks.",
        stats.engine_seconds,
    );
    seconds(
        "tos_node_commit_seconds_total",
        "Seconds spent committing blocks.",
        stats.commit_seconds,
    );
    let mut gauge = |name: &str, help: &str, value: f64| {
        if let Ok(metric) = Gauge::new(name, help) {
            metric.set(value);
            families.extend(metric.collect());
        }
    };
    gauge(
        "tos_executor_incarnations_per_transaction",
        "Parallel engine incarnations per transaction (1 means no re-execution).",
        stats.incarnations_per_transaction(),
    );
    let mut int_gauge = |name: &str, help: &str, value: i64| {
        if let Ok(metric) = IntGauge::new(name, help) {
            metric.set(value);
            families.extend(metric.collect());
        }
    };
    int_gauge(
        "tos_node_topoheight",
        "The chain's topoheight (-1 before genesis).",
        stats.topoheight.map_or(-1, |topoheight| {
            i64::try_from(topoheight).unwrap_or(i64::MAX)
        }),
    );
    int_gauge(
        "tos_executor_breaker_open",
        "1 while the circuit breaker keeps the parallel engine off.",
        i64::from(slot.breaker_open),
    );
    families
}

/// Serves `node`'s metrics at `GET /metrics`, and its [admin API](super::admin) beside
/// them, on `listener` until `shutdown` completes.
///
/// Bind the listener to a loopback address unless the metrics are meant for other hosts:
/// they say how busy the node is, and the admin API changes its configuration.
pub async fn serve<S, F>(
    listener: tokio::net::TcpListener,
    node: Arc<Node<S>>,
    shutdown: F,
) -> std::io::Result<()>
where
    S: BlockStore + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let app = Router::new()
        .route("/metrics", get(scrape::<S>))
        .merge(super::admin::routes::<S>())
        .with_state(node);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn scrape<S: BlockStore + 'static>(State(node): State<Arc<Node<S>>>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        node.render_metrics(),
    )
}

/// Parses `--metrics-addr`: `HOST:PORT`, or a bare `PORT` meaning `127.0.0.1:PORT`.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse()
        .map_err(|_| format!("`{text}` is neither HOST:PORT nor a port number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_name() {
        let text = render(&NodeStats::default());
        for name in METRIC_NAMES {
            assert!(
                text.lines()
                    .any(|line| line.starts_with(&format!("# TYPE {name} "))),
                "{name} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn bare_port_means_loopback() {
        assert_eq!(
            parse_addr("9100"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9100)))
        );
        assert_eq!(
            parse_addr("0.0.0.0:9100"),
            Ok(SocketAddr::from(([0, 0, 0, 0], 9100)))
        );
        assert!(parse_addr("localhost").is_err());
    }
}
