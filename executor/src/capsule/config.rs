//! The `[capsules]` table of the executor configuration: where capsules go and how much
//! of the disk they may take.
//!
//! ```toml
//! [capsules]
//! dir = "/var/lib/tos/capsules"   # left out: no capsules are written
//! max_files = 16                  # the oldest are removed beyond this count
//! max_bytes = 268435456           # ... or beyond this total size (256 MiB)
//! ```
//!
//! Off unless `dir` is set: a library must not write files nobody asked for.
//! Validation never touches the file system (the directory is created on the first
//! capsule), so a configuration checks the same wherever it is validated.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::slot::ConfigError;

/// The `[capsules]` table; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapsuleConfig {
    /// The directory capsules are written to; absent: capsules are off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Most capsules kept in `dir`; the oldest are removed first. At least 1.
    pub max_files: usize,
    /// Most bytes the capsules in `dir` may take together; the oldest are removed first,
    /// and a single capsule larger than this is not written (that is logged). At least 1.
    pub max_bytes: u64,
}

impl CapsuleConfig {
    /// The default count cap.
    pub const DEFAULT_MAX_FILES: usize = 16;
    /// The default size cap: 256 MiB (a capsule takes about 2.5 KB per transaction of
    /// its block: some 25 MB for 10,000 transactions).
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

    /// Checks the ranges serde cannot express; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_files == 0 {
            return Err(ConfigError::Invalid {
                field: "capsules.max_files",
                reason: "must be at least 1 (leave `capsules.dir` out to turn capsules off)"
                    .to_owned(),
            });
        }
        if self.max_bytes == 0 {
            return Err(ConfigError::Invalid {
                field: "capsules.max_bytes",
                reason: "must be at least 1 (leave `capsules.dir` out to turn capsules off)"
                    .to_owned(),
            });
        }
        if self
            .dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(ConfigError::Invalid {
                field: "capsules.dir",
                reason: "must not be empty (leave it out to turn capsules off)".to_owned(),
            });
        }
        Ok(())
    }
}

impl Default for CapsuleConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_files: Self::DEFAULT_MAX_FILES,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

/// The flags' layer of the `[capsules]` table (see [`crate::slot::ConfigOverrides`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CapsuleOverrides {
    /// `capsules.dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::{ConfigOverrides, ExecutorConfig};

    #[test]
    fn the_table_reads_from_the_file_and_its_defaults_hold() {
        let config =
            ExecutorConfig::from_toml_str("[capsules]\ndir = \"/tmp/capsules\"").expect("valid");
        assert_eq!(config.capsules.dir, Some(PathBuf::from("/tmp/capsules")));
        assert_eq!(config.capsules.max_files, CapsuleConfig::DEFAULT_MAX_FILES);
        assert_eq!(config.capsules.max_bytes, CapsuleConfig::DEFAULT_MAX_BYTES);
        assert_eq!(
            ExecutorConfig::default().capsules.dir,
            None,
            "off by default"
        );
    }

    #[test]
    // `Jail::expect_with` fixes the closure's error type to figment's own, large one.
    #[allow(clippy::result_large_err)]
    fn the_environment_and_the_flags_set_the_directory() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TOS_EXECUTOR_CAPSULES__DIR", "/srv/capsules");
            jail.set_env("TOS_EXECUTOR_CAPSULES__MAX_FILES", "4");
            let config = ExecutorConfig::load(None, &ConfigOverrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(config.capsules.dir, Some(PathBuf::from("/srv/capsules")));
            assert_eq!(config.capsules.max_files, 4);
            let flags = ConfigOverrides {
                capsules: Some(CapsuleOverrides {
                    dir: Some("/flag/capsules".into()),
                }),
                ..ConfigOverrides::default()
            };
            let config = ExecutorConfig::load(None, &flags).map_err(|e| e.to_string())?;
            assert_eq!(config.capsules.dir, Some(PathBuf::from("/flag/capsules")));
            assert_eq!(
                config.capsules.max_files, 4,
                "the flag sets only the directory"
            );
            jail.set_env("TOS_EXECUTOR_CAPSULES__MAX_BYTES", "0");
            let error =
                ExecutorConfig::load(None, &ConfigOverrides::default()).expect_err("zero bytes");
            assert!(error.to_string().contains("capsules.max_bytes"), "{error}");
            Ok(())
        });
    }
}
