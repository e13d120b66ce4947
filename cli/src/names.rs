//! Command-line parsing of the library's named values: workloads, networks and executor
//! kinds.
//!
//! The library gives each of these a `FromStr` with a typed error, a `Display` and an
//! `ALL` list, and knows nothing of clap; this module turns them into clap value parsers
//! that accept exactly those names and list them in `--help` and in errors, as a clap
//! `ValueEnum` would.

use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use executor::slot::{EngineKind, Network};
use executor::WorkloadKind;

/// `--workload`.
pub fn workload() -> impl TypedValueParser<Value = WorkloadKind> {
    named(WorkloadKind::ALL.map(WorkloadKind::name))
}

/// `--network`.
pub fn network() -> impl TypedValueParser<Value = Network> {
    named(Network::ALL.map(Network::as_str))
}

/// `--executor`.
pub fn engine_kind() -> impl TypedValueParser<Value = EngineKind> {
    named(EngineKind::ALL.map(EngineKind::as_str))
}

/// A parser accepting `names` and turning each into a `T` with its `FromStr`.
fn named<T, const N: usize>(names: [&'static str; N]) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    /// Parses `value` for an option whose parser is `parser`.
    fn parse<T: Clone + Send + Sync + 'static>(
        parser: impl TypedValueParser<Value = T>,
        value: &str,
    ) -> Result<T, clap::Error> {
        let command =
            Command::new("test").arg(Arg::new("value").long("value").value_parser(parser));
        let matches = command.try_get_matches_from(["test", "--value", value])?;
        matches
            .get_one::<T>("value")
            .cloned()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::MissingRequiredArgument))
    }

    #[test]
    fn every_library_name_parses_and_others_are_refused() {
        for kind in WorkloadKind::ALL {
            assert_eq!(parse(workload(), kind.name()).ok(), Some(kind));
        }
        for name in Network::ALL {
            assert_eq!(parse(network(), name.as_str()).ok(), Some(name));
        }
        for kind in EngineKind::ALL {
            assert_eq!(parse(engine_kind(), kind.as_str()).ok(), Some(kind));
        }
        let error = parse(workload(), "p3p")
            .expect_err("not a workload")
            .to_string();
        assert!(error.contains("hot-receiver"), "{error}");
        assert!(parse(network(), "Mainnet").is_err());
        assert!(parse(engine_kind(), "blockstm").is_err());
    }
}
