//! What `blockstm status` and `blockstm config` print for a person, and how
//! `config set`'s `KEY=VALUE` arguments become the API's JSON patch. Pure functions of
//! the API's answers, so they are tested without a node.

use std::io::Write;

use anyhow::{bail, Context};
use executor::node::admin::{ConfigChange, ConfigView};
use executor::node::status::NodeStatus;
use executor::slot::ExecutorConfig;
use serde_json::{Map, Value};

/// Writes `text` to stdout.
pub fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes an API answer as indented JSON (as it came, if it is not JSON).
pub fn json(body: &[u8]) -> anyhow::Result<()> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => out(&format!("{}\n", serde_json::to_string_pretty(&value)?)),
        Err(_) => out(&format!("{}\n", String::from_utf8_lossy(body))),
    }
}

/// The status for a person.
pub fn status(status: &NodeStatus) -> String {
    let mut text = String::new();
    let mut line = |line: String| {
        text.push_str(&line);
        text.push('\n');
    };
    let health = if status.health.healthy {
        "healthy".to_owned()
    } else {
        let reasons: Vec<String> = status
            .health
            .reasons
            .iter()
            .map(ToString::to_string)
            .collect();
        format!("UNHEALTHY: {}", reasons.join("; "))
    };
    line(format!(
        "node:     topoheight {}, up {}, last block {} ago, {health}",
        status
            .topoheight
            .map_or_else(|| "none (no genesis)".to_owned(), |t| t.to_string()),
        duration(status.uptime_seconds),
        duration(status.health.seconds_since_last_block),
    ));
    line(format!(
        "executor: {}, {} threads, {}, parallel from {} transactions, shadow {}",
        status.engine,
        status.threads,
        status.network,
        status.min_parallel_txns,
        if status.shadow { "on" } else { "off" },
    ));
    let breaker = &status.breaker;
    line(format!(
        "breaker:  {} (cooldown {} blocks, {} trips since start)",
        if breaker.open {
            format!("OPEN, {} blocks left", breaker.remaining_blocks)
        } else {
            "closed".to_owned()
        },
        breaker.cooldown_blocks,
        breaker.trips,
    ));
    line(format!(
        "applied:  {} blocks, {} transactions ({} successful) since start",
        status.blocks, status.transactions, status.successful_transactions
    ));
    let recent = &status.recent;
    if recent.blocks > 0 {
        line(format!(
            "recent:   {} blocks: {:.0} tx/block, {:.0} tx/s, execute {:.1} ms, commit {:.1} ms, \
             {:.2} executions/tx, {:.2} validations/tx, {:.1} aborts/block, parallelism {}",
            recent.blocks,
            recent.transactions_per_block,
            recent.transactions_per_second,
            recent.execute_seconds * 1e3,
            recent.commit_seconds * 1e3,
            recent.executions_per_txn,
            recent.validations_per_txn,
            recent.aborts_per_block,
            recent
                .achieved_parallelism
                .map_or_else(|| "-".to_owned(), |p| format!("{p:.2}")),
        ));
    }
    if let Some(pending) = &status.pending_config {
        let changed = executor::slot::reconfigure::changed_fields(&status.config, pending);
        line(format!(
            "pending:  {} (from the next block)",
            assignments(pending, &changed).join(", ")
        ));
    }
    text
}

/// `config get [KEY]` for a person: every field as `key = value` (TOML), or one field's
/// value; a pending configuration's differences follow.
pub fn config(view: &ConfigView, key: Option<&str>) -> anyhow::Result<String> {
    let current = flatten(&view.config);
    let pending = view.pending.as_ref().map(flatten);
    let mut text = String::new();
    match key {
        Some(key) => {
            if !known_keys().iter().any(|known| known == key) {
                bail!(
                    "`{key}` is not a configuration field (fields: {})",
                    known_keys().join(", ")
                );
            }
            text.push_str(&format!("{}\n", value_of(&current, key)));
            if let Some(pending) = &pending {
                let next = value_of(pending, key);
                if next != value_of(&current, key) {
                    text.push_str(&format!("pending: {next} (from the next block)\n"));
                }
            }
        }
        None => {
            for key in known_keys() {
                text.push_str(&format!("{key} = {}\n", value_of(&current, &key)));
            }
            if let Some(pending) = &view.pending {
                let changed = executor::slot::reconfigure::changed_fields(&view.config, pending);
                text.push_str(&format!(
                    "# pending, from the next block: {}\n",
                    assignments(pending, &changed).join(", ")
                ));
            }
        }
    }
    Ok(text)
}

/// An accepted `config set` for a person.
pub fn change(change: &ConfigChange) -> String {
    if change.changed.is_empty() {
        return "accepted: nothing differs from the configuration in effect\n".to_owned();
    }
    format!(
        "accepted, from the next block: {}\n",
        assignments(&change.config, &change.changed).join(", ")
    )
}

/// `config set`'s arguments as the API's JSON patch: `a.b=1` is `{"a": {"b": 1}}`;
/// `true`/`false` are booleans, integers numbers, `default`/`null` null (reset), anything
/// else a string.
pub fn patch(assignments: &[String]) -> anyhow::Result<Value> {
    let mut patch = Map::new();
    for assignment in assignments {
        let Some((key, value)) = assignment.split_once('=') else {
            bail!("`{assignment}` is not KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            bail!("`{assignment}` has no field name before `=`");
        }
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().context("a key has at least one part")?;
        let mut table = &mut patch;
        for part in parts {
            let entry = table
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = entry else {
                bail!("`{key}`: `{part}` is given both as a value and as a table");
            };
            table = inner;
        }
        table.insert(last.to_owned(), typed(value.trim()));
    }
    Ok(Value::Object(patch))
}

fn typed(value: &str) -> Value {
    match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" | "default" => Value::Null,
        _ => {
            if let Ok(number) = value.parse::<u64>() {
                Value::from(number)
            } else if let Ok(number) = value.parse::<i64>() {
                Value::from(number)
            } else {
                Value::String(value.to_owned())
            }
        }
    }
}

/// Every field as the file spells it, tables' fields dotted, sorted.
fn known_keys() -> Vec<String> {
    // A configuration with every optional field set, so that none is left out.
    let full = ExecutorConfig {
        threads: Some(1),
        min_parallel_txns_override: Some(1),
        ..ExecutorConfig::default()
    };
    flatten(&full).into_iter().map(|(key, _)| key).collect()
}

/// `config`'s fields as `(dotted key, value)`, sorted (JSON objects keep sorted keys).
fn flatten(config: &ExecutorConfig) -> Vec<(String, Value)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            value => out.push((prefix.to_owned(), value.clone())),
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::to_value(config) {
        walk("", &value, &mut out);
    }
    out
}

/// A field's value as TOML writes it, or `default` when it is not set.
fn value_of(fields: &[(String, Value)], key: &str) -> String {
    fields
        .iter()
        .find(|(name, _)| name == key)
        .map_or_else(|| "default".to_owned(), |(_, value)| value.to_string())
}

/// `key = value` for each of `keys` in `config`.
fn assignments(config: &ExecutorConfig, keys: &[String]) -> Vec<String> {
    let fields = flatten(config);
    keys.iter()
        .map(|key| format!("{key} = {}", value_of(&fields, key)))
        .collect()
}

/// Seconds as `1h 2m`, `3m 4s` or `5.2 s`.
fn duration(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    match whole {
        0..=59 => format!("{seconds:.1} s"),
        60..=3599 => format!("{}m {}s", whole / 60, whole % 60),
        _ => format!("{}h {}m", whole / 3600, whole % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use executor::slot::EngineKind;
    use serde_json::json;

    #[test]
    fn assignments_become_a_nested_typed_patch() {
        let patch = patch(&[
            "kind=grouping".to_owned(),
            "threads=4".to_owned(),
            "shadow=true".to_owned(),
            "min_parallel_txns=default".to_owned(),
            "circuit_breaker.cooldown_blocks=10".to_owned(),
        ])
        .expect("valid assignments");
        assert_eq!(
            patch,
            json!({"kind": "grouping", "threads": 4, "shadow": true, "min_parallel_txns": null,
                   "circuit_breaker": {"cooldown_blocks": 10}})
        );
        assert!(super::patch(&["threads".to_owned()]).is_err());
        assert!(super::patch(&["=4".to_owned()]).is_err());
        assert!(super::patch(&["a=1".to_owned(), "a.b=2".to_owned()]).is_err());
    }

    #[test]
    fn config_get_prints_every_field_or_one() {
        let view = ConfigView {
            config: ExecutorConfig::default(),
            pending: Some(ExecutorConfig {
                kind: EngineKind::Grouping,
                ..ExecutorConfig::default()
            }),
        };
        let all = config(&view, None).expect("all fields");
        assert!(all.contains("kind = \"block-stm\"\n"), "{all}");
        assert!(all.contains("threads = default\n"), "{all}");
        assert!(
            all.contains("circuit_breaker.cooldown_blocks = 100\n"),
            "{all}"
        );
        assert!(
            all.contains("# pending, from the next block: kind = \"grouping\""),
            "{all}"
        );
        let one = config(&view, Some("kind")).expect("one field");
        assert_eq!(
            one,
            "\"block-stm\"\npending: \"grouping\" (from the next block)\n"
        );
        assert!(config(&view, Some("turbo")).is_err());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(5.25), "5.2 s");
        assert_eq!(duration(125.0), "2m 5s");
        assert_eq!(duration(7300.0), "2h 1m");
    }
}
