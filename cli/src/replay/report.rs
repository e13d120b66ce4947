//! What `blockstm replay` prints: a table of the runs, or one JSON object.

use std::io::Write;
use std::path::Path;

use executor::capsule::{ChainReport, RecordedOutcome, ReplayReport};

/// A root shortened for the table: the first and last eight hex digits.
fn short(root: &str) -> String {
    match (root.get(..8), root.get(root.len().saturating_sub(8)..)) {
        (Some(head), Some(tail)) if root.len() > 16 => format!("{head}…{tail}"),
        _ => root.to_owned(),
    }
}

/// The table of a capsule's replay.
pub(super) fn print_capsule(
    out: &mut impl Write,
    path: &Path,
    report: &ReplayReport,
) -> anyhow::Result<()> {
    let threads = report
        .threads
        .map_or_else(String::new, |threads| format!(" on {threads} threads"));
    writeln!(
        out,
        "capsule {}: {} at topoheight {} ({} transactions, {} state values), engine {}{threads}",
        path.display(),
        report.reason,
        report.topoheight,
        report.transactions,
        report.state_values,
        report.engine,
    )?;
    match &report.recorded {
        Some(difference) => writeln!(out, "recorded first difference: {difference}")?,
        None => writeln!(out, "recorded first difference: none (the outputs agreed)")?,
    }
    if !report.recorded_consistent {
        writeln!(
            out,
            "warning: the recorded difference is not the difference of the recorded outputs"
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<12} {:>7}  {:<17}  result",
        "engine", "threads", "state root"
    )?;
    for run in &report.runs {
        let root = match &run.outcome {
            RecordedOutcome::Accepted(output) => short(&output.state_root().to_string()),
            RecordedOutcome::Rejected(_) => "rejected".to_owned(),
        };
        let mut result = match &run.first_difference {
            None => "agrees".to_owned(),
            Some(difference) if Some(difference) == report.recorded.as_ref() => {
                format!("DIFFERS (as recorded): {difference}")
            }
            Some(difference) => format!("DIFFERS: {difference}"),
        };
        if run.unrecorded_reads > 0 {
            result.push_str(&format!(
                " [incomplete: {} reads not in the capsule]",
                run.unrecorded_reads
            ));
        }
        if run.fallbacks > 0 {
            result.push_str(" [fell back to sequential]");
        }
        writeln!(
            out,
            "{:<12} {:>7}  {root:<17}  {result}",
            run.engine, run.threads
        )?;
    }
    writeln!(out)?;
    if report
        .runs
        .iter()
        .any(|run| run.engine == "sequential" && !run.agrees())
    {
        writeln!(
            out,
            "note: the sequential oracle does not reproduce its recorded output: suspect the \
             capsule, or the node's own oracle run (hardware, a build difference)"
        )?;
    }
    let differing = report.runs.iter().filter(|run| !run.agrees()).count();
    if differing == 0 {
        let reproduced = if report.recorded.is_some() {
            ": the recorded difference did not reproduce on these engines"
        } else {
            ""
        };
        writeln!(
            out,
            "all {} runs agree with the recorded oracle{reproduced}",
            report.runs.len()
        )?;
    } else {
        writeln!(
            out,
            "{differing} of {} runs differ from the recorded oracle{}",
            report.runs.len(),
            if report.reproduced() {
                "; the recorded difference reproduced"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// The table of a block file's replay; its last line is `state root: <hex>` when every
/// run agrees, as `blockstm run`'s is.
pub(super) fn print_chain(
    out: &mut impl Write,
    path: &Path,
    report: &ChainReport,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "blocks {}: {} blocks from a genesis of {} allocations, {} roots recorded",
        path.display(),
        report.blocks,
        report.allocations,
        report.recorded_roots
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<12} {:>7} {:>7}  {:<17}  result",
        "engine", "threads", "blocks", "state root"
    )?;
    for run in &report.runs {
        let result = run
            .divergence
            .as_ref()
            .map_or_else(|| "agrees".to_owned(), |d| format!("DIFFERS: {d}"));
        writeln!(
            out,
            "{:<12} {:>7} {:>7}  {:<17}  {result}",
            run.engine,
            run.threads,
            run.applied,
            short(&run.state_root.to_string())
        )?;
    }
    writeln!(out)?;
    match report.state_root() {
        Some(root) => writeln!(out, "state root: {root}")?,
        None => writeln!(out, "the runs diverge")?,
    }
    Ok(())
}

/// One JSON object, pretty-printed.
pub(super) fn print_json(out: &mut impl Write, value: &serde_json::Value) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
