//! What an operator sets: the executor kind, threads, the parallel threshold, shadow mode
//! and the circuit breaker, layered from defaults, a TOML file, environment variables and
//! command-line flags (each layer overriding the one before).
//!
//! ```
//! use executor::slot::{EngineKind, ExecutorConfig, Network};
//!
//! let config = ExecutorConfig::from_toml_str(
//!     r#"
//!     network = "testnet"
//!     kind = "block-stm"
//!     threads = 4
//!     shadow = true
//!     "#,
//! )?;
//! assert_eq!(config.kind, EngineKind::BlockStm);
//! assert_eq!(config.min_parallel_txns(), Network::Testnet.default_min_parallel_txns());
//! # Ok::<(), executor::slot::ConfigError>(())
//! ```

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::capsule::config::{CapsuleConfig, CapsuleOverrides};
use crate::engine::blockstm::BlockStmConfig;
use crate::engine::EngineKind;
use crate::model::MAX_BLOCK_TRANSACTIONS;

/// The prefix of the environment variables that override the configuration:
/// `TOS_EXECUTOR_THREADS=8`, `TOS_EXECUTOR_CIRCUIT_BREAKER__COOLDOWN_BLOCKS=50` (a double
/// underscore steps into a table).
pub const ENV_PREFIX: &str = "TOS_EXECUTOR_";

/// The most worker threads a configuration may ask for.
pub const MAX_THREADS: usize = 1024;

/// Which chain the node follows; it sets the default parallel threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The main network.
    #[default]
    Mainnet,
    /// The public test network.
    Testnet,
    /// A local development network.
    Devnet,
}

impl Network {
    /// Every network, in declaration order.
    pub const ALL: [Network; 3] = [Network::Mainnet, Network::Testnet, Network::Devnet];

    /// The name used in configuration files, flags and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
            Network::Devnet => "devnet",
        }
    }

    /// Blocks with fewer transactions run sequentially unless the configuration says
    /// otherwise: 20 on mainnet, 10 on testnet, 4 on devnet, as the daemon's integration
    /// guide plans (small devnet blocks still exercise the parallel path).
    pub const fn default_min_parallel_txns(self) -> usize {
        match self {
            Network::Mainnet => 20,
            Network::Testnet => 10,
            Network::Devnet => 4,
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`Network`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown network `{0}` (expected mainnet, testnet or devnet)")]
pub struct UnknownNetwork(pub String);

impl std::str::FromStr for Network {
    type Err = UnknownNetwork;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Network::ALL
            .into_iter()
            .find(|network| network.as_str() == name)
            .ok_or_else(|| UnknownNetwork(name.to_owned()))
    }
}

/// Block-STM's contention cutoff ([`BlockStmConfig::contention_cutoff`]): a percentage
/// from 0 to 100, or `off`. Written `50` or `"off"` in TOML, `50` or `off` in flags and
/// environment variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentionCutoff(pub Option<u8>);

impl Default for ContentionCutoff {
    fn default() -> Self {
        Self(Some(BlockStmConfig::DEFAULT_CONTENTION_CUTOFF))
    }
}

impl std::str::FromStr for ContentionCutoff {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "off" {
            return Ok(Self(None));
        }
        match text.parse::<u8>() {
            Ok(percent) if percent <= 100 => Ok(Self(Some(percent))),
            _ => Err(format!(
                "`{text}` is neither a percentage from 0 to 100 nor `off`"
            )),
        }
    }
}

impl std::fmt::Display for ContentionCutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(percent) => write!(f, "{percent}"),
            None => f.write_str("off"),
        }
    }
}

impl Serialize for ContentionCutoff {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(percent) => serializer.serialize_u8(percent),
            None => serializer.serialize_str("off"),
        }
    }
}

impl<'de> Deserialize<'de> for ContentionCutoff {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// TOML gives an integer, environment variables may give either.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Percent(i64),
            Text(String),
        }
        let parsed = match Raw::deserialize(deserializer)? {
            Raw::Percent(percent) => percent.to_string().parse(),
            Raw::Text(text) => text.parse(),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// The VM contract calls run on ([`crate::VmKind`]): `"interpreter"` (the default,
/// available everywhere) or `"jit"` (x86_64). Both give the same results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmSetting(pub crate::VmKind);

impl std::str::FromStr for VmSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.parse().map(Self).map_err(|error| format!("{error}"))
    }
}

impl std::fmt::Display for VmSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for VmSetting {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for VmSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// When the circuit breaker turns the parallel engine off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// After a shadow mismatch or a fallback to sequential, the next this-many blocks run
    /// sequentially; the one after tries the parallel engine again. 0 turns the breaker
    /// off: the parallel engine is always tried.
    pub cooldown_blocks: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            cooldown_blocks: 100,
        }
    }
}

/// The executor slot's configuration; see the module docs for how it is layered.
///
/// Every field has a default, so an empty file is a valid configuration: Block-STM on
/// mainnet with the machine's parallelism, no shadow mode, a 100-block breaker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// The chain followed; sets the default of [`ExecutorConfig::min_parallel_txns`].
    pub network: Network,
    /// The engine used at or above the threshold.
    pub kind: EngineKind,
    /// Worker threads of a parallel engine, the calling thread included; absent means
    /// the machine's available parallelism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Blocks with fewer transactions run sequentially; absent means the network's
    /// default ([`Network::default_min_parallel_txns`]).
    #[serde(skip_serializing_if = "Option::is_none", rename = "min_parallel_txns")]
    pub min_parallel_txns_override: Option<usize>,
    /// Block-STM's contention cutoff.
    pub contention_cutoff: ContentionCutoff,
    /// The VM contract calls run on, in every engine.
    pub vm: VmSetting,
    /// Run Block-STM beside the sequential oracle on every block, compare, keep the
    /// oracle's output.
    pub shadow: bool,
    /// When the parallel engine is turned off after a mismatch or a fallback.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Where mismatch capsules go, and the directory's caps (off without a `dir`).
    pub capsules: CapsuleConfig,
}

/// Why a configuration was refused. Every variant names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("reading the executor configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A value has the wrong type or shape, or a field is unknown (the message names it,
    /// and where it came from: the file, an environment variable or a flag).
    #[error("executor configuration: {0}")]
    Parse(String),
    /// A value parses but is out of range.
    #[error("executor configuration: `{field}` {reason}")]
    Invalid {
        /// The field, as written in the file.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        // One line per error, each naming the field as the file spells it (environment
        // variables arrive upper-case: `TOS_EXECUTOR_THREADS` is `threads`) and where the
        // value came from (the file, the environment, the flags).
        let messages: Vec<String> = error
            .into_iter()
            .map(|error| {
                let field = error
                    .path
                    .iter()
                    .map(|part| part.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(".");
                let origin = error
                    .metadata
                    .as_ref()
                    .map(|metadata| format!(" (from {})", metadata.name))
                    .unwrap_or_default();
                if field.is_empty() {
                    format!("{}{origin}", error.kind)
                } else {
                    format!("`{field}`: {}{origin}", error.kind)
                }
            })
            .collect();
        ConfigError::Parse(messages.join("; "))
    }
}

impl ExecutorConfig {
    /// Parses a TOML document (the file layer alone: no environment, no flags).
    pub fn from_toml_str(toml: &str) -> Result<Self, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(Self::default())).merge(Toml::string(toml)),
        )
    }

    /// The layered configuration: defaults, then the TOML file at `path` if given (it must
    /// exist), then `TOS_EXECUTOR_*` environment variables, then `overrides` (the flags).
    pub fn load(path: Option<&Path>, overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = path {
            // Read it ourselves: figment treats a missing file as empty, and a typo in a
            // path must not silently fall back to the defaults.
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        figment = figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .merge(Serialized::defaults(overrides));
        Self::extract(figment)
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Self = figment.extract()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the ranges serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(threads) = self.threads {
            if !(1..=MAX_THREADS).contains(&threads) {
                return Err(ConfigError::Invalid {
                    field: "threads",
                    reason: format!("must be between 1 and {MAX_THREADS}, not {threads}"),
                });
            }
        }
        if let Some(min) = self.min_parallel_txns_override {
            // Above the largest block, the parallel path could never run: almost surely a
            // typo, so refuse it rather than silently run everything sequentially.
            if min > MAX_BLOCK_TRANSACTIONS {
                return Err(ConfigError::Invalid {
                    field: "min_parallel_txns",
                    reason: format!(
                        "must be at most {MAX_BLOCK_TRANSACTIONS} (the largest block), not {min}"
                    ),
                });
            }
        }
        if !self.vm.0.is_available() {
            return Err(ConfigError::Invalid {
                field: "vm",
                reason: format!("`{}` is not available on this machine", self.vm),
            });
        }
        if let ContentionCutoff(Some(percent)) = self.contention_cutoff {
            if percent > 100 {
                return Err(ConfigError::Invalid {
                    field: "contention_cutoff",
                    reason: format!("must be a percentage from 0 to 100 or \"off\", not {percent}"),
                });
            }
        }
        self.capsules.validate()?;
        if self.shadow && self.kind == EngineKind::Sequential {
            return Err(ConfigError::Invalid {
                field: "shadow",
                reason: "compares a parallel engine with the oracle: set `kind` to \"block-stm\" \
                         or \"grouping\""
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// The threshold: blocks with fewer transactions run sequentially.
    pub fn min_parallel_txns(&self) -> usize {
        self.min_parallel_txns_override
            .unwrap_or(self.network.default_min_parallel_txns())
    }

    /// Worker threads: the configured count, or the machine's parallelism.
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
    }
}

/// The top layer: values given on the command line (or by an embedding daemon), each
/// overriding the file and the environment when present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConfigOverrides {
    /// `network`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// `kind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<EngineKind>,
    /// `threads`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// `min_parallel_txns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_parallel_txns: Option<usize>,
    /// `contention_cutoff`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contention_cutoff: Option<ContentionCutoff>,
    /// `vm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmSetting>,
    /// `shadow` (a flag can only turn it on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<bool>,
    /// `circuit_breaker.cooldown_blocks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreakerOverrides>,
    /// `capsules.dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capsules: Option<CapsuleOverrides>,
}

/// [`ConfigOverrides`] of the `circuit_breaker` table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CircuitBreakerOverrides {
    /// `circuit_breaker.cooldown_blocks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_blocks: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults() {
        let config = ExecutorConfig::from_toml_str("").expect("empty is valid");
        assert_eq!(config, ExecutorConfig::default());
        assert_eq!(config.min_parallel_txns(), 20);
    }

    #[test]
    fn network_sets_the_threshold_unless_overridden() {
        for (network, expected) in [("mainnet", 20), ("testnet", 10), ("devnet", 4)] {
            let config = ExecutorConfig::from_toml_str(&format!("network = \"{network}\""))
                .expect("valid network");
            assert_eq!(config.min_parallel_txns(), expected, "{network}");
        }
        let config = ExecutorConfig::from_toml_str("network = \"devnet\"\nmin_parallel_txns = 64")
            .expect("valid");
        assert_eq!(config.min_parallel_txns(), 64);
    }

    #[test]
    fn names_parse_back_and_match_the_configuration_file() {
        for network in Network::ALL {
            assert_eq!(network.to_string().parse::<Network>(), Ok(network));
            let config = ExecutorConfig::from_toml_str(&format!("network = \"{network}\""))
                .expect("a network's name is valid in TOML");
            assert_eq!(config.network, network);
        }
        for kind in EngineKind::ALL {
            assert_eq!(kind.to_string().parse::<EngineKind>(), Ok(kind));
            let config = ExecutorConfig::from_toml_str(&format!("kind = \"{kind}\""))
                .expect("an executor's name is valid in TOML");
            assert_eq!(config.kind, kind);
        }
        let error = "moonnet".parse::<Network>().expect_err("not a network");
        assert!(
            error.to_string().contains("mainnet, testnet or devnet"),
            "{error}"
        );
        let error = "stm".parse::<EngineKind>().expect_err("not an executor");
        assert!(error.to_string().contains("block-stm"), "{error}");
    }

    #[test]
    fn contention_cutoff_reads_a_percent_or_off() {
        let config = ExecutorConfig::from_toml_str("contention_cutoff = \"off\"").expect("off");
        assert_eq!(config.contention_cutoff, ContentionCutoff(None));
        let config = ExecutorConfig::from_toml_str("contention_cutoff = 30").expect("30");
        assert_eq!(config.contention_cutoff, ContentionCutoff(Some(30)));
        let error = ExecutorConfig::from_toml_str("contention_cutoff = 130").expect_err("130");
        assert!(error.to_string().contains("contention_cutoff"), "{error}");
    }

    #[test]
    fn errors_name_the_field() {
        for (toml, field) in [
            ("threads = 0", "threads"),
            ("threads = \"four\"", "threads"),
            ("threads = 100000", "threads"),
            ("min_parallel_txns = 70000", "min_parallel_txns"),
            ("kind = \"turbo\"", "kind"),
            ("network = \"moon\"", "network"),
            ("shadow = \"yes\"", "shadow"),
            ("thread = 4", "thread"),
            ("[circuit_breaker]\ncooldown_blocks = -1", "cooldown_blocks"),
            ("kind = \"sequential\"\nshadow = true", "shadow"),
            ("[capsules]\nmax_files = 0", "capsules.max_files"),
            ("[capsules]\nmax_bytes = 0", "capsules.max_bytes"),
            ("[capsules]\ndir = \"\"", "capsules.dir"),
            ("[capsules]\nmax_file = 3", "max_file"),
        ] {
            let error = ExecutorConfig::from_toml_str(toml).expect_err(toml);
            assert!(
                error.to_string().contains(field),
                "`{toml}`: the error `{error}` does not name `{field}`"
            );
        }
    }

    #[test]
    fn round_trips_through_toml_serialisation() {
        let config = ExecutorConfig {
            network: Network::Devnet,
            kind: EngineKind::Grouping,
            threads: Some(3),
            min_parallel_txns_override: Some(7),
            contention_cutoff: ContentionCutoff(None),
            vm: VmSetting(crate::VmKind::Jit),
            shadow: true,
            circuit_breaker: CircuitBreakerConfig { cooldown_blocks: 5 },
            capsules: CapsuleConfig {
                dir: Some("/var/lib/tos/capsules".into()),
                max_files: 3,
                max_bytes: 1_000_000,
            },
        };
        let toml = toml::to_string(&config).expect("serialisable");
        assert_eq!(
            ExecutorConfig::from_toml_str(&toml).expect("parses"),
            config
        );
    }

    #[test]
    // `Jail::expect_with` fixes the closure's error type to figment's own, large one.
    #[allow(clippy::result_large_err)]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("executor.toml");
        std::fs::write(
            &path,
            "threads = 3\nshadow = true\n[circuit_breaker]\ncooldown_blocks = 9\n",
        )
        .expect("write");
        figment::Jail::expect_with(|jail| {
            jail.set_env("TOS_EXECUTOR_THREADS", "5");
            jail.set_env("TOS_EXECUTOR_CIRCUIT_BREAKER__COOLDOWN_BLOCKS", "11");
            let config = ExecutorConfig::load(Some(&path), &ConfigOverrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(config.threads, Some(5), "environment beats the file");
            assert_eq!(config.circuit_breaker.cooldown_blocks, 11);
            assert!(config.shadow, "the file beats the defaults");
            let flags = ConfigOverrides {
                threads: Some(7),
                circuit_breaker: Some(CircuitBreakerOverrides {
                    cooldown_blocks: Some(2),
                }),
                ..ConfigOverrides::default()
            };
            let config = ExecutorConfig::load(Some(&path), &flags).map_err(|e| e.to_string())?;
            assert_eq!(config.threads, Some(7), "flags beat the environment");
            assert_eq!(config.circuit_breaker.cooldown_blocks, 2);
            jail.set_env("TOS_EXECUTOR_THREADS", "zero");
            let error = ExecutorConfig::load(Some(&path), &ConfigOverrides::default())
                .expect_err("a bad environment variable");
            assert!(error.to_string().contains("threads"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_example_file_in_the_repository_is_valid_and_spells_out_the_defaults() {
        let example = include_str!("../../../config/executor.toml");
        let config = ExecutorConfig::from_toml_str(example).expect("the example parses");
        assert_eq!(
            config,
            ExecutorConfig {
                threads: Some(2),
                min_parallel_txns_override: Some(20),
                ..ExecutorConfig::default()
            }
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let error = ExecutorConfig::load(
            Some(Path::new("/nonexistent/executor.toml")),
            &ConfigOverrides::default(),
        )
        .expect_err("missing file");
        assert!(matches!(error, ConfigError::Read { .. }), "{error}");
    }
}
