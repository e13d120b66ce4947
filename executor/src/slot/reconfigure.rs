//! Changing the configuration while the node runs: a patch of some fields (the admin
//! API's `PUT /config`), or the whole layered configuration read again (`SIGHUP`).
//!
//! Both are validated exactly as the file is at start-up (the same figment extraction,
//! the same [`ExecutorConfig::validate`]), so a value the file refuses is refused here
//! with the same message and the field named; the network, which decides what the chain
//! is, cannot change without a restart. [`ExecutorSlot::reconfigure`](super::ExecutorSlot::reconfigure)
//! stages an accepted configuration for the next block.
//!
//! ```
//! use executor::slot::{EngineKind, ExecutorConfig, ExecutorSlot};
//!
//! let slot = ExecutorSlot::new(&ExecutorConfig::default())?;
//! let patch = serde_json::json!({"kind": "grouping", "threads": 2});
//! let (next, changed) = slot.patch_config(&patch)?;
//! assert_eq!(next.kind, EngineKind::Grouping);
//! assert_eq!(changed, ["kind", "threads"]);
//! assert_eq!(slot.config().kind, EngineKind::BlockStm, "in effect from the next block");
//!
//! let error = slot.patch_config(&serde_json::json!({"threads": 0})).unwrap_err();
//! assert_eq!(error.field(), Some("threads"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;

use figment::providers::Serialized;
use figment::Figment;

use super::config::{ConfigError, ConfigOverrides, ExecutorConfig};

/// Why a new configuration was refused. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigureError {
    /// A value is of the wrong type, out of range or unknown, or the file could not be
    /// read: exactly what the file would be refused for at start-up.
    #[error("{source}")]
    Invalid {
        /// The field at fault, as the file spells it (`circuit_breaker.cooldown_blocks`);
        /// `None` when the error is not about one field (an unreadable file).
        field: Option<String>,
        /// The configuration's own error.
        source: ConfigError,
    },
    /// A field that cannot change while the node runs.
    #[error(
        "executor configuration: `{field}` cannot change while the node runs \
         (it is {current}; restart the node to change it)"
    )]
    Fixed {
        /// The field.
        field: &'static str,
        /// Its value in effect.
        current: String,
    },
    /// A patch that is not an object of fields.
    #[error(
        "executor configuration: a change is an object of fields as the file spells them, \
         like {{\"threads\": 4}}, not {found}"
    )]
    NotAnObject {
        /// What was sent instead, in JSON.
        found: String,
    },
}

impl ReconfigureError {
    /// The field at fault, as the configuration file spells it, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ReconfigureError::Invalid { field, .. } => field.as_deref(),
            ReconfigureError::Fixed { field, .. } => Some(field),
            ReconfigureError::NotAnObject { .. } => None,
        }
    }
}

impl From<ConfigError> for ReconfigureError {
    fn from(source: ConfigError) -> Self {
        let field = match &source {
            ConfigError::Invalid { field, .. } => Some((*field).to_owned()),
            ConfigError::Read { .. } | ConfigError::Parse(_) => None,
        };
        ReconfigureError::Invalid { field, source }
    }
}

/// Where the configuration comes from at start-up, kept so that it can be read again
/// (`SIGHUP`): the file, then `TOS_EXECUTOR_*` variables, then the command line's
/// overrides, as [`ExecutorConfig::load`] layers them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigSource {
    /// The TOML file, if any.
    pub path: Option<PathBuf>,
    /// The flags, which still beat the file after a reload.
    pub overrides: ConfigOverrides,
}

impl ConfigSource {
    /// The layered configuration as it reads now.
    pub fn load(&self) -> Result<ExecutorConfig, ReconfigureError> {
        Ok(ExecutorConfig::load(self.path.as_deref(), &self.overrides)?)
    }
}

/// `base` with the fields of `patch` (a JSON object, tables as nested objects) changed,
/// validated as the file is. A `null` resets an optional field (`threads`,
/// `min_parallel_txns`) to its default.
pub fn patched(
    base: &ExecutorConfig,
    patch: &serde_json::Value,
) -> Result<ExecutorConfig, ReconfigureError> {
    if !patch.is_object() {
        return Err(ReconfigureError::NotAnObject {
            found: patch.to_string(),
        });
    }
    let figment = Figment::from(Serialized::defaults(base)).merge(Serialized::defaults(patch));
    let config: ExecutorConfig = figment.extract().map_err(|error| {
        let field = figment_field(&error);
        ReconfigureError::Invalid {
            field,
            source: ConfigError::from(error),
        }
    })?;
    config.validate()?;
    Ok(config)
}

/// Checks that `next` may replace `current` in a running node.
pub(crate) fn check(
    current: &ExecutorConfig,
    next: &ExecutorConfig,
) -> Result<(), ReconfigureError> {
    next.validate()?;
    if next.network != current.network {
        return Err(ReconfigureError::Fixed {
            field: "network",
            current: current.network.to_string(),
        });
    }
    Ok(())
}

/// The fields whose values differ between `before` and `after`, as the file spells them
/// (`circuit_breaker.cooldown_blocks` for a field of a table), sorted.
pub fn changed_fields(before: &ExecutorConfig, after: &ExecutorConfig) -> Vec<String> {
    let mut changed = Vec::new();
    let (Ok(before), Ok(after)) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        // Serialising a configuration cannot fail (plain fields, string keys).
        return changed;
    };
    diff("", &before, &after, &mut changed);
    changed
}

fn diff(
    prefix: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (before, after) {
        (Value::Object(before), Value::Object(after)) => {
            let keys: std::collections::BTreeSet<&String> =
                before.keys().chain(after.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                let missing = Value::Null;
                diff(
                    &path,
                    before.get(key).unwrap_or(&missing),
                    after.get(key).unwrap_or(&missing),
                    out,
                );
            }
        }
        (before, after) if before != after => out.push(prefix.to_owned()),
        _ => {}
    }
}

/// The field the first of figment's errors is about, as the file spells it.
fn figment_field(error: &figment::Error) -> Option<String> {
    let first = error.clone().into_iter().next()?;
    let mut path: Vec<String> = first
        .path
        .iter()
        .map(|part| part.to_ascii_lowercase())
        .collect();
    if let figment::error::Kind::UnknownField(name, _) = &first.kind {
        if path.last() != Some(name) {
            path.push(name.clone());
        }
    }
    (!path.is_empty()).then(|| path.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::{ContentionCutoff, EngineKind, Network};
    use serde_json::json;

    #[test]
    fn a_patch_changes_only_its_fields() {
        let base = ExecutorConfig {
            threads: Some(2),
            ..ExecutorConfig::default()
        };
        let config = patched(
            &base,
            &json!({"kind": "grouping", "contention_cutoff": "off",
                    "circuit_breaker": {"cooldown_blocks": 7}}),
        )
        .expect("valid patch");
        assert_eq!(
            config,
            ExecutorConfig {
                kind: EngineKind::Grouping,
                contention_cutoff: ContentionCutoff(None),
                circuit_breaker: crate::slot::CircuitBreakerConfig { cooldown_blocks: 7 },
                ..base.clone()
            }
        );
        assert_eq!(
            changed_fields(&base, &config),
            [
                "circuit_breaker.cooldown_blocks",
                "contention_cutoff",
                "kind"
            ]
        );
        assert_eq!(patched(&base, &json!({})).expect("empty patch"), base);
    }

    #[test]
    fn null_resets_an_optional_field() {
        let base = ExecutorConfig {
            threads: Some(2),
            min_parallel_txns_override: Some(50),
            ..ExecutorConfig::default()
        };
        let config = patched(&base, &json!({"threads": null, "min_parallel_txns": null}))
            .expect("null resets");
        assert_eq!(config.threads, None);
        assert_eq!(config.min_parallel_txns_override, None);
    }

    #[test]
    fn bad_values_name_their_field_as_the_file_does() {
        let base = ExecutorConfig::default();
        for (patch, field) in [
            (json!({"threads": 0}), "threads"),
            (json!({"threads": "four"}), "threads"),
            (json!({"threads": 100_000}), "threads"),
            (json!({"min_parallel_txns": 70_000}), "min_parallel_txns"),
            (json!({"kind": "turbo"}), "kind"),
            (json!({"shadow": "yes"}), "shadow"),
            (json!({"thread": 4}), "thread"),
            (json!({"contention_cutoff": 130}), "contention_cutoff"),
            (
                json!({"circuit_breaker": {"cooldown_blocks": -1}}),
                "circuit_breaker.cooldown_blocks",
            ),
            (json!({"kind": "sequential", "shadow": true}), "shadow"),
        ] {
            let error = patched(&base, &patch).expect_err(&patch.to_string());
            assert_eq!(error.field(), Some(field), "{patch}: {error}");
            let leaf = field.rsplit('.').next().unwrap_or(field);
            assert!(error.to_string().contains(leaf), "{patch}: {error}");
        }
        let error = patched(&base, &json!([1, 2])).expect_err("not an object");
        assert!(
            matches!(error, ReconfigureError::NotAnObject { .. }),
            "{error}"
        );
    }

    #[test]
    fn the_network_is_fixed() {
        let current = ExecutorConfig::default();
        let next = ExecutorConfig {
            network: Network::Devnet,
            ..current.clone()
        };
        let error = check(&current, &next).expect_err("network changes");
        assert_eq!(error.field(), Some("network"));
        assert!(check(&current, &current).is_ok());
    }
}
