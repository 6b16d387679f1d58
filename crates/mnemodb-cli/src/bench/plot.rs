//! Recall-vs-QPS curves (plotters, SVG and PNG), one curve per run label.
use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use super::report::Point;
use crate::error::{CliError, Result};

/// TrueType fonts tried, in order (text is measured and rasterised with one).
const FONTS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Register a sans-serif font once; `false` when none is found.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let env = std::env::var("MNEMODB_PLOT_FONT").ok();
        let found = env
            .iter()
            .map(String::as_str)
            .chain(FONTS)
            .find_map(|p| std::fs::read(p).ok());
        let Some(bytes) = found else {
            return false;
        };
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    })
}

const COLORS: [RGBColor; 8] = [
    RGBColor(220, 30, 50),
    RGBColor(40, 90, 220),
    RGBColor(0, 150, 60),
    RGBColor(230, 140, 0),
    RGBColor(140, 60, 180),
    RGBColor(0, 160, 170),
    RGBColor(120, 120, 120),
    RGBColor(190, 90, 140),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    k: usize,
    points: &[Point],
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut labels: Vec<&str> = Vec::new();
    for p in points {
        if !labels.contains(&p.label.as_str()) {
            labels.push(&p.label);
        }
    }
    let xmin = points.iter().map(|p| p.recall).fold(1.0, f64::min);
    let xmin = (xmin - 0.02).clamp(0.0, 0.98);
    let qmax = points.iter().map(|p| p.qps).fold(1.0, f64::max);
    let qmin = points
        .iter()
        .map(|p| p.qps)
        .filter(|q| *q > 0.0)
        .fold(qmax, f64::min);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            xmin..1.005f64,
            ((qmin * 0.7).max(0.1)..qmax * 1.4).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc(format!("recall@{k}"))
        .y_desc("queries / s (1 thread)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (i, label) in labels.iter().enumerate() {
        let color = COLORS
            .get(i % COLORS.len())
            .copied()
            .unwrap_or(BLACK)
            .to_rgba();
        let mut pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.label == *label)
            .map(|p| (p.recall, p.qps.max(0.1)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(label.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Draw `points` to `<stem>.svg` and `<stem>.png`; returns the files written. Without a
/// usable font the plot is skipped (`Ok(vec![])`) and the caller says so.
pub fn render(
    stem: &Path,
    title: &str,
    k: usize,
    points: &[Point],
) -> Result<Vec<std::path::PathBuf>> {
    if points.is_empty() || !font_ready() {
        return Ok(Vec::new());
    }
    let size = (1000u32, 700u32);
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    draw(
        SVGBackend::new(&svg, size).into_drawing_area(),
        title,
        k,
        points,
    )
    .map_err(|e| CliError::runtime(format!("plot {}: {e}", svg.display())))?;
    draw(
        BitMapBackend::new(&png, size).into_drawing_area(),
        title,
        k,
        points,
    )
    .map_err(|e| CliError::runtime(format!("plot {}: {e}", png.display())))?;
    Ok(vec![svg, png])
}
