//! The node's admin API, served beside `/metrics` by the same server
//! ([`metrics::serve`](super::metrics::serve)): what an operator asks a running node, and
//! how they change its executor configuration without a restart.
//!
//! | request | answer |
//! |---|---|
//! | `GET /status` | [`NodeStatus`](super::status::NodeStatus) as JSON |
//! | `GET /health` | [`Health`] as JSON: 200 when healthy, 503 otherwise |
//! | `GET /blocks?last=N` | the latest `N` [`BlockRecord`]s, oldest first (all the history keeps without `last`) |
//! | `GET /config` | `{"config": …, "pending": …}`: the configuration in effect and any waiting for the next block |
//! | `PUT /config` | a JSON object of fields to change, as the file spells them; 202 with `{"config", "changed", "takes_effect"}`, or 400 with `{"error", "field"}` and nothing changed |
//!
//! A change takes effect when the next block starts, never inside one
//! ([`ExecutorSlot::reconfigure`](crate::slot::ExecutorSlot::reconfigure));
//! [`reload_on_sighup`] reads the configuration again on `SIGHUP` the same way.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use storage_adapter::BlockStore;

use super::health::Health;
use super::history::BlockRecord;
use super::Node;
use crate::slot::{ConfigSource, ExecutorConfig, ReconfigureError};

/// The body of a 4xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What is wrong, for a person.
    pub error: String,
    /// The field (configuration field or query parameter) at fault, if one is.
    pub field: Option<String>,
}

/// The answer to `GET /config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigView {
    /// The configuration in effect.
    pub config: ExecutorConfig,
    /// A configuration accepted but waiting for the next block to start.
    pub pending: Option<ExecutorConfig>,
}

/// The answer to an accepted `PUT /config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// The configuration the next block starts under.
    pub config: ExecutorConfig,
    /// The fields that differ from the configuration in effect.
    pub changed: Vec<String>,
    /// When it takes effect: always `"next_block"`.
    pub takes_effect: String,
}

/// The admin routes, to be given the node as state (see the module docs).
pub fn routes<S: BlockStore + 'static>() -> Router<Arc<Node<S>>> {
    Router::new()
        .route("/status", get(status::<S>))
        .route("/health", get(health::<S>))
        .route("/blocks", get(blocks::<S>))
        .route("/config", get(get_config::<S>).put(put_config::<S>))
}

async fn status<S: BlockStore + 'static>(State(node): State<Arc<Node<S>>>) -> Response {
    Json(node.status()).into_response()
}

async fn health<S: BlockStore + 'static>(State(node): State<Arc<Node<S>>>) -> Response {
    let health: Health = node.health();
    let code = if health.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health)).into_response()
}

async fn blocks<S: BlockStore + 'static>(
    State(node): State<Arc<Node<S>>>,
    RawQuery(query): RawQuery,
) -> Response {
    match last_parameter(query.as_deref()) {
        Ok(last) => {
            let records: Vec<BlockRecord> =
                node.recent_blocks(last.unwrap_or(node.history_capacity()));
            Json(records).into_response()
        }
        Err(error) => (StatusCode::BAD_REQUEST, Json(error)).into_response(),
    }
}

/// The `last` parameter of `/blocks`: absent, or a count.
fn last_parameter(query: Option<&str>) -> Result<Option<usize>, ApiError> {
    let mut last = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "last" {
            return Err(ApiError {
                error: format!("unknown parameter `{name}` (expected `last`)"),
                field: Some(name.to_owned()),
            });
        }
        let count = value.parse::<usize>().map_err(|_| ApiError {
            error: format!("`last` must be a count of blocks, not `{value}`"),
            field: Some("last".to_owned()),
        })?;
        last = Some(count);
    }
    Ok(last)
}

async fn get_config<S: BlockStore + 'static>(State(node): State<Arc<Node<S>>>) -> Response {
    let slot = node.executor().slot();
    Json(ConfigView {
        config: slot.config(),
        pending: slot.pending_config(),
    })
    .into_response()
}

async fn put_config<S: BlockStore + 'static>(
    State(node): State<Arc<Node<S>>>,
    body: Bytes,
) -> Response {
    let patch: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => {
            let error = ApiError {
                error: format!("the body is not JSON: {error}"),
                field: None,
            };
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
    };
    match node.executor().slot().patch_config(&patch) {
        Ok((config, changed)) => (
            StatusCode::ACCEPTED,
            Json(ConfigChange {
                config,
                changed,
                takes_effect: "next_block".to_owned(),
            }),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, %patch, "configuration change refused");
            (StatusCode::BAD_REQUEST, Json(api_error(&error))).into_response()
        }
    }
}

fn api_error(error: &ReconfigureError) -> ApiError {
    ApiError {
        error: error.to_string(),
        field: error.field().map(str::to_owned),
    }
}

/// Reads the configuration again from `source` on every `SIGHUP`, and stages it for the
/// next block as `PUT /config` does (a file that does not load or validate is logged and
/// changes nothing). Runs until the runtime shuts down; fails only if the signal cannot
/// be watched.
#[cfg(unix)]
pub async fn reload_on_sighup<S: BlockStore + 'static>(
    node: Arc<Node<S>>,
    source: ConfigSource,
) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    while hangups.recv().await.is_some() {
        match node.executor().slot().reload(&source) {
            Ok(changed) => tracing::info!(
                ?changed,
                path = ?source.path,
                "SIGHUP: configuration reloaded; it takes effect when the next block starts"
            ),
            Err(error) => tracing::error!(
                %error,
                path = ?source.path,
                "SIGHUP: configuration reload refused; nothing changed"
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_parameter_is_a_count() {
        assert_eq!(last_parameter(None).ok(), Some(None));
        assert_eq!(last_parameter(Some("")).ok(), Some(None));
        assert_eq!(last_parameter(Some("last=5")).ok(), Some(Some(5)));
        let error = last_parameter(Some("last=five")).expect_err("not a count");
        assert_eq!(error.field.as_deref(), Some("last"));
        let error = last_parameter(Some("first=5")).expect_err("unknown");
        assert_eq!(error.field.as_deref(), Some("first"));
    }
}
