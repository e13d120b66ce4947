//! The `compare --plot` chart: speedup over sequential against the number of accounts,
//! one line per engine and thread count, drawn with `plotters` on its bitmap backend.
//! Its text is set in a font bundled into the binary ([`text`]).

use std::path::Path;

use anyhow::anyhow;
use executor::workload::WorkloadKind;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::compare::{EngineKind, Measurement};

mod series;
mod text;

use series::{ceiling_notes, color_of, tick_step};
use text::Align;

const WIDTH: u32 = 1180;
const HEIGHT: u32 = 680;
/// The plotting area inside the image.
const LEFT: i32 = 90;
const RIGHT: i32 = 820;
const TOP: i32 = 80;
const BOTTOM: i32 = 590;
/// Font sizes in pixels.
const TITLE: u32 = 22;
const LABEL: u32 = 19;
const NOTE: u32 = 17;

/// Writes the chart of `measurements` (every account count, engine and thread count) to
/// `path` as a PNG.
pub fn speedup_chart(
    path: &Path,
    workload: WorkloadKind,
    block_size: usize,
    blocks: u64,
    measurements: &[Measurement],
) -> anyhow::Result<()> {
    text::register()?;
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    draw(&root, workload, block_size, blocks, measurements)?;
    root.present().map_err(|error| anyhow!("{error}"))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    workload: WorkloadKind,
    block_size: usize,
    blocks: u64,
    measurements: &[Measurement],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing the chart: {error}");
    root.fill(&WHITE).map_err(fail)?;

    let series = series::of(measurements);

    let mut accounts: Vec<f64> = measurements.iter().map(|m| m.accounts as f64).collect();
    accounts.sort_by(f64::total_cmp);
    accounts.dedup();
    let (low, high) = match (accounts.first(), accounts.last()) {
        (Some(&low), Some(&high)) => (low / 1.6, high * 1.6),
        _ => (1.0, 10.0),
    };
    let top = measurements
        .iter()
        .map(|m| m.speedup_vs_sequential)
        .fold(1.0f64, f64::max);
    let step = tick_step(top * 1.1);
    let y_max = ((top * 1.1) / step).ceil() * step;

    let title = format!(
        "Speedup over sequential: {} workload, {block_size} tx/block, {blocks} blocks, RocksDB",
        workload.name()
    );
    text::draw(root, &title, (LEFT, 24), TITLE, &BLACK, Align::Left).map_err(fail)?;

    let area = root
        .clone()
        .shrink((LEFT, TOP), ((RIGHT - LEFT) as u32, (BOTTOM - TOP) as u32));
    let mut chart = ChartBuilder::on(&area)
        .build_cartesian_2d((low..high).log_scale(), 0.0..y_max)
        .map_err(fail)?;
    let grid = RGBColor(225, 225, 225);
    // Horizontal grid and y labels.
    let mut y = 0.0;
    while y <= y_max + step / 2.0 {
        chart
            .draw_series(LineSeries::new([(low, y), (high, y)], grid.stroke_width(1)))
            .map_err(fail)?;
        let (_, py) = chart.backend_coord(&(low, y));
        let label = format!("{y:.2}");
        text::draw(root, &label, (LEFT - 10, py), LABEL, &BLACK, Align::Right).map_err(fail)?;
        y += step;
    }
    // Vertical grid and x labels at the measured account counts.
    for &x in &accounts {
        chart
            .draw_series(LineSeries::new(
                [(x, 0.0), (x, y_max)],
                grid.stroke_width(1),
            ))
            .map_err(fail)?;
        let (px, _) = chart.backend_coord(&(x, 0.0));
        let label = format!("{x:.0}");
        text::draw(
            root,
            &label,
            (px, BOTTOM + 20),
            LABEL,
            &BLACK,
            Align::Center,
        )
        .map_err(fail)?;
    }
    // The sequential reference.
    chart
        .draw_series(LineSeries::new(
            [(low, 1.0), (high, 1.0)],
            BLACK.stroke_width(2),
        ))
        .map_err(fail)?;
    // Axes.
    root.draw(&PathElement::new(
        [(LEFT, TOP), (LEFT, BOTTOM), (RIGHT, BOTTOM)],
        BLACK.stroke_width(2),
    ))
    .map_err(fail)?;
    text::draw(
        root,
        "accounts (log scale)",
        ((LEFT + RIGHT) / 2, BOTTOM + 52),
        LABEL,
        &BLACK,
        Align::Center,
    )
    .map_err(fail)?;
    text::draw(
        root,
        "speedup (× sequential)",
        (8, TOP - 27),
        LABEL,
        &BLACK,
        Align::Left,
    )
    .map_err(fail)?;

    // The series, and the legend on the right.
    let mut legend_y = TOP + 4;
    text::draw(
        root,
        "1.00 = sequential",
        (RIGHT + 24, legend_y + 7),
        LABEL,
        &BLACK,
        Align::Left,
    )
    .map_err(fail)?;
    legend_y += 30;
    for s in series.iter() {
        let block_stm = s.engine == EngineKind::BlockStm.as_str();
        let color = color_of(block_stm, s.threads);
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(3),
            ))
            .map_err(fail)?;
        if block_stm {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&point| Circle::new(point, 6, color.filled())),
                )
                .map_err(fail)?;
        } else {
            chart
                .draw_series(s.points.iter().map(|&point| {
                    EmptyElement::at(point) + Rectangle::new([(-5, -5), (5, 5)], color.filled())
                }))
                .map_err(fail)?;
        }
        let sample_y = legend_y + 7;
        root.draw(&PathElement::new(
            [(RIGHT + 24, sample_y), (RIGHT + 64, sample_y)],
            color.stroke_width(3),
        ))
        .map_err(fail)?;
        if block_stm {
            root.draw(&Circle::new((RIGHT + 44, sample_y), 6, color.filled()))
                .map_err(fail)?;
        } else {
            root.draw(&Rectangle::new(
                [(RIGHT + 39, sample_y - 5), (RIGHT + 49, sample_y + 5)],
                color.filled(),
            ))
            .map_err(fail)?;
        }
        let threads = if s.threads == 1 { "thread" } else { "threads" };
        let label = format!("{} {} {threads}", s.engine, s.threads);
        text::draw(
            root,
            &label,
            (RIGHT + 74, sample_y),
            LABEL,
            &BLACK,
            Align::Left,
        )
        .map_err(fail)?;
        legend_y += 28;
    }
    if let Some(first) = measurements.first() {
        let grey = RGBColor(90, 90, 90);
        legend_y += 16;
        let mut notes = vec![
            format!("median of {} rounds", first.rounds),
            format!("{} warm-up block(s) untimed", first.warmup_blocks),
            "execution time only".to_owned(),
        ];
        notes.extend(ceiling_notes(measurements));
        for note in notes {
            text::draw(
                root,
                &note,
                (RIGHT + 24, legend_y + 7),
                NOTE,
                &grey,
                Align::Left,
            )
            .map_err(fail)?;
            legend_y += 22;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn measurement(
        engine: EngineKind,
        threads: usize,
        accounts: usize,
        speedup: f64,
    ) -> Measurement {
        Measurement {
            workload: "p2p".to_owned(),
            accounts,
            block_size: 100,
            blocks: 2,
            warmup_blocks: 1,
            rounds: 1,
            seed: 42,
            failure_rate: 0.0,
            engine: engine.as_str(),
            threads,
            transactions: 200,
            execute_s: 0.1,
            commit_s: 0.01,
            tx_per_s: 2000.0 * speedup,
            speedup_vs_sequential: speedup,
            speedup_vs_grouping: None,
            ceiling: threads as f64,
            of_ceiling: speedup / threads as f64,
            root: String::new(),
            executions_per_tx: 1.0,
            validations_per_tx: 1.0,
            batches_per_block: None,
            stats: Default::default(),
        }
    }

    #[test]
    fn the_chart_draws_its_text_without_a_system_font() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("speedup.png");
        let mut measurements = Vec::new();
        for (accounts, speedup) in [(2, 0.9), (100, 1.5), (10_000, 1.8)] {
            measurements.push(measurement(EngineKind::Sequential, 1, accounts, 1.0));
            measurements.push(measurement(
                EngineKind::Grouping,
                2,
                accounts,
                speedup - 0.2,
            ));
            measurements.push(measurement(EngineKind::BlockStm, 2, accounts, speedup));
        }
        speedup_chart(&path, WorkloadKind::P2p, 100, 2, &measurements).expect("drawn");
        let written = std::fs::metadata(&path).expect("the chart exists").len();
        assert!(written > 10_000, "{written} bytes");
    }
}
