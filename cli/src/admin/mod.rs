//! `blockstm status` and `blockstm config get|set`: an operator's commands against a
//! running node's admin API (served by `blockstm run --metrics-addr`, or a daemon's own
//! server), printed for a person, or the API's JSON with `--json` for scripts.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use executor::node::admin::{ApiError, ConfigChange, ConfigView};
use executor::node::metrics;
use executor::node::status::NodeStatus;
use hyper::Method;

mod client;
mod print;

/// The node's admin address by default (`blockstm run --metrics-addr 9100`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9100";

/// Where the node is, and how to print its answer.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The node's admin API: the address given to `blockstm run --metrics-addr`,
    /// HOST:PORT or a bare PORT on 127.0.0.1.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_ADDR, value_parser = metrics::parse_addr)]
    addr: SocketAddr,
    /// Print the API's JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The arguments of `blockstm status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
}

/// The arguments of `blockstm config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Print the executor configuration in effect, and any waiting for the next block.
    Get {
        /// One field, as the file spells it (`threads`, `circuit_breaker.cooldown_blocks`).
        key: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Change fields of the executor configuration; they take effect when the next
    /// block starts. Values are validated as the configuration file's are: a bad one
    /// changes nothing. `KEY=default` (or `null`) resets an optional field.
    Set {
        /// `kind=grouping`, `threads=4`, `shadow=true`, `contention_cutoff=off`,
        /// `circuit_breaker.cooldown_blocks=10`, ...
        #[arg(value_name = "KEY=VALUE", required = true)]
        assignments: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs `blockstm status`.
pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let body = get(&args.target, "/status")?;
    if args.target.json {
        return print::json(&body);
    }
    let status: NodeStatus =
        serde_json::from_slice(&body).context("the node's /status answer is not a status")?;
    print::out(&print::status(&status))
}

/// Runs `blockstm config`.
pub fn config(args: &ConfigArgs) -> anyhow::Result<()> {
    match &args.command {
        ConfigCommand::Get { key, target } => {
            let body = get(target, "/config")?;
            if target.json {
                return print::json(&body);
            }
            let view: ConfigView = serde_json::from_slice(&body)
                .context("the node's /config answer is not a configuration")?;
            print::out(&print::config(&view, key.as_deref())?)
        }
        ConfigCommand::Set {
            assignments,
            target,
        } => {
            let patch = print::patch(assignments)?;
            let answer = client::request(
                target.addr,
                Method::PUT,
                "/config",
                Some(serde_json::to_vec(&patch)?),
            )?;
            if target.json {
                print::json(&answer.body)?;
            }
            if answer.status.is_success() {
                if !target.json {
                    let change: ConfigChange = serde_json::from_slice(&answer.body)
                        .context("the node's answer to PUT /config is not a change")?;
                    print::out(&print::change(&change))?;
                }
                return Ok(());
            }
            bail!("the node refused the change: {}", refusal(&answer.body))
        }
    }
}

/// `GET path`, or the error the node answered.
fn get(target: &Target, path: &str) -> anyhow::Result<Vec<u8>> {
    let answer = client::request(target.addr, Method::GET, path, None)?;
    if !answer.status.is_success() {
        bail!(
            "GET {path}: the node answered {}: {}",
            answer.status,
            refusal(&answer.body)
        );
    }
    Ok(answer.body.to_vec())
}

/// The error message in an error answer (the API's `{"error", "field"}`, or the text).
fn refusal(body: &[u8]) -> String {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(error) => error.error,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}
