//! What the chart shows, worked out from the measurements apart from any drawing: one
//! series per engine and thread count, their colours, the grid step, and the notes on the
//! machine's ceiling.

use plotters::style::RGBColor;

use crate::compare::{EngineKind, Measurement};

/// One line of the chart: an engine at a thread count.
pub struct Series {
    pub engine: &'static str,
    pub threads: usize,
    /// (accounts, speedup over sequential), by accounts.
    pub points: Vec<(f64, f64)>,
}

/// The series of `measurements` (sequential aside: it is the 1.00 line), each by
/// accounts; Block-STM first, then grouping, by thread count within each.
pub fn of(measurements: &[Measurement]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for m in measurements
        .iter()
        .filter(|m| m.engine != EngineKind::Sequential.as_str())
    {
        let point = (m.accounts as f64, m.speedup_vs_sequential);
        match series
            .iter_mut()
            .find(|s| s.engine == m.engine && s.threads == m.threads)
        {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                engine: m.engine,
                threads: m.threads,
                points: vec![point],
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series.sort_by_key(|s| (s.engine != EngineKind::BlockStm.as_str(), s.threads));
    series
}

/// The machine's ceiling at each thread count above one, as its range over the account
/// counts (each was measured beside that count's runs).
pub fn ceiling_notes(measurements: &[Measurement]) -> Vec<String> {
    let mut threads: Vec<usize> = measurements
        .iter()
        .map(|m| m.threads)
        .filter(|&threads| threads > 1)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    threads
        .into_iter()
        .map(|threads| {
            let (low, high) = measurements
                .iter()
                .filter(|m| m.threads == threads)
                .map(|m| m.ceiling)
                .fold((f64::INFINITY, 0.0f64), |(low, high), ceiling| {
                    (low.min(ceiling), high.max(ceiling))
                });
            if high - low < 0.005 {
                format!("ceiling at {threads} threads: {high:.2}×")
            } else {
                format!("ceiling at {threads} threads: {low:.2}–{high:.2}×")
            }
        })
        .collect()
}

/// A round grid step giving about 5 to 10 lines up to `max`.
pub fn tick_step(max: f64) -> f64 {
    let raw = (max / 6.0).max(0.01);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude);
    step.max(0.05)
}

/// Block-STM in blues, grouping in oranges; darker with more threads.
pub fn color_of(block_stm: bool, threads: usize) -> RGBColor {
    const BLUES: [RGBColor; 4] = [
        RGBColor(120, 170, 230),
        RGBColor(40, 110, 200),
        RGBColor(20, 60, 150),
        RGBColor(10, 30, 90),
    ];
    const ORANGES: [RGBColor; 4] = [
        RGBColor(250, 180, 90),
        RGBColor(230, 120, 20),
        RGBColor(180, 70, 10),
        RGBColor(120, 40, 0),
    ];
    let shade = match threads {
        0 | 1 => 0,
        2 => 1,
        3..=4 => 2,
        _ => 3,
    };
    if block_stm {
        BLUES[shade]
    } else {
        ORANGES[shade]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::measurement;

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(1.1), 0.2);
        assert_eq!(tick_step(3.0), 0.5);
        assert_eq!(tick_step(0.0), 0.05);
    }

    #[test]
    fn ceilings_are_noted_per_thread_count() {
        let mut measurements = vec![
            measurement(EngineKind::Sequential, 1, 2, 1.0),
            measurement(EngineKind::BlockStm, 2, 2, 1.5),
            measurement(EngineKind::BlockStm, 2, 100, 1.5),
            measurement(EngineKind::BlockStm, 4, 100, 1.5),
        ];
        measurements[2].ceiling = 1.5;
        assert_eq!(
            ceiling_notes(&measurements),
            vec![
                "ceiling at 2 threads: 1.50–2.00×".to_owned(),
                "ceiling at 4 threads: 4.00×".to_owned(),
            ]
        );
    }
}
