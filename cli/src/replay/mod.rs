//! `blockstm replay`: re-runs a mismatch capsule, or a block file, on every engine and
//! thread count, and says where they differ.
//!
//! `blockstm replay FILE` reads a capsule the node wrote after a shadow mismatch or a
//! fallback and runs its block on the recorded state alone (no database) with the
//! sequential oracle, batch grouping and Block-STM at each `--threads` count, comparing
//! each with the recorded oracle output. `blockstm replay --blocks FILE` runs a block
//! file (`blockstm run --export-blocks`) from its genesis on the same engines and checks
//! every block's root. Either way the exit status is non-zero when a run diverges, and
//! `--json` prints one JSON object instead of the table.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{bail, Context};
use executor::capsule::replay::{factory_engines, replay, DEFAULT_THREADS};
use executor::capsule::{replay_chain, BlocksReader, Capsule};
use executor::slot::MAX_THREADS;

mod report;

/// The arguments of `blockstm replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A capsule the node wrote after a shadow mismatch or a fallback.
    #[arg(
        value_name = "FILE",
        required_unless_present = "blocks",
        conflicts_with = "blocks"
    )]
    capsule: Option<PathBuf>,
    /// A block file (`blockstm run --export-blocks`) to run from its genesis instead.
    #[arg(long, value_name = "FILE")]
    blocks: Option<PathBuf>,
    /// Thread counts of the parallel engines (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_THREADS)]
    threads: Vec<usize>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Runs `blockstm replay`.
pub fn replay_command(args: &ReplayArgs) -> anyhow::Result<()> {
    if let Some(bad) = args
        .threads
        .iter()
        .find(|&&threads| !(1..=MAX_THREADS).contains(&threads))
    {
        bail!("--threads: {bad} is not between 1 and {MAX_THREADS}");
    }
    let engines = factory_engines(&args.threads);
    let mut out = std::io::stdout().lock();
    let diverged = match (&args.capsule, &args.blocks) {
        (Some(path), _) => {
            let capsule = Capsule::read(path)
                .with_context(|| format!("reading the capsule {}", path.display()))?;
            let report = replay(&capsule, &engines);
            if args.json {
                report::print_json(&mut out, &report.to_json())?;
            } else {
                report::print_capsule(&mut out, path, &report)?;
            }
            report.diverged()
        }
        (None, Some(path)) => {
            let file = File::open(path)
                .with_context(|| format!("opening the block file {}", path.display()))?;
            let reader = BlocksReader::new(BufReader::new(file))
                .with_context(|| format!("reading the block file {}", path.display()))?;
            let genesis = reader.genesis().to_vec();
            let blocks = reader
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("reading the block file {}", path.display()))?;
            let report = replay_chain(&genesis, &blocks, &engines)?;
            if args.json {
                report::print_json(&mut out, &report.to_json())?;
            } else {
                report::print_chain(&mut out, path, &report)?;
            }
            report.diverged()
        }
        (None, None) => bail!("give a capsule FILE or --blocks FILE"),
    };
    if diverged {
        bail!("the runs diverge (see above)");
    }
    Ok(())
}
