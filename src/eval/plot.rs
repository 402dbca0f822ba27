//! SVG plots of an eval run: the ROC curve and the score histogram.

use super::metrics::{Scored, roc};
use plotters::prelude::*;
use std::path::Path;

fn err<E: std::fmt::Display>(e: E) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Draw the ROC curve (false-positive rate on a log axis, as spam filters
/// are judged at low FPR) into an SVG file.
pub fn roc_svg(path: &Path, title: &str, samples: &[Scored]) -> std::io::Result<()> {
    let pts: Vec<(f64, f64)> = roc(samples)
        .into_iter()
        .map(|(x, y)| (x.max(1e-4), y))
        .collect();
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((1e-4f64..1.0f64).log_scale(), 0.0f64..1.0f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate (log)")
        .y_desc("spam recall")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(pts, BLUE.stroke_width(2)))
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draw histograms of spam and ham scores, with the threshold marked.
pub fn score_histogram_svg(
    path: &Path,
    title: &str,
    samples: &[Scored],
    threshold: f64,
) -> std::io::Result<()> {
    let lo = samples
        .iter()
        .map(|s| s.score)
        .fold(threshold, f64::min)
        .floor()
        - 1.0;
    let hi = samples
        .iter()
        .map(|s| s.score)
        .fold(threshold, f64::max)
        .ceil()
        + 1.0;
    let bins = ((hi - lo) as usize).clamp(1, 200);
    let mut spam = vec![0u32; bins];
    let mut ham = vec![0u32; bins];
    for s in samples {
        let b = (((s.score - lo) / (hi - lo) * bins as f64) as usize).min(bins - 1);
        if s.spam { spam[b] += 1 } else { ham[b] += 1 }
    }
    let ymax = spam.iter().chain(&ham).copied().max().unwrap_or(1).max(1);
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, 0u32..ymax + ymax / 10 + 1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("score")
        .y_desc("messages")
        .draw()
        .map_err(err)?;
    let width = (hi - lo) / bins as f64;
    for (counts, color, name) in [(&ham, GREEN.mix(0.6), "ham"), (&spam, RED.mix(0.6), "spam")] {
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new([(x0, 0), (x0 + width, c)], color.filled())
            }))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            vec![(threshold, 0), (threshold, ymax)],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("threshold {threshold:.1}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draw a learning curve ((1-ROCA)% per window against messages seen) into
/// an SVG file.
pub fn curve_svg(
    path: &Path,
    title: &str,
    curve: &[super::online::CurvePoint],
) -> std::io::Result<()> {
    let max_x = curve.last().map_or(1, |p| p.seen).max(1) as f64;
    let max_y = curve
        .iter()
        .map(|p| p.one_minus_roca_pct)
        .fold(0.01f64, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0f64..max_x, 0.0f64..max_y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("messages seen")
        .y_desc("(1-ROCA)% of the last tenth")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            curve.iter().map(|p| (p.seen as f64, p.one_minus_roca_pct)),
            &BLUE,
        ))
        .map_err(err)?;
    root.present().map_err(err)
}
