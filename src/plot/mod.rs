//! Paper-ready figures from plain data. Each constructor validates its input and
//! returns a [`Figure`]: the drawing held in memory as SVG text, which can also be
//! rendered as a 300-dpi PNG and saved atomically, or shown inline in evcxr.
//!
//! All figures share one look (see `theme`): DejaVu Sans embedded in the binary (so
//! output is identical on every machine), the Okabe–Ito colour-blind-safe palette,
//! a title, a legend strip above the panels (never covering data) and a small grey
//! caption line at the bottom that wraps or shrinks rather than clips.
//!
//! Non-finite inputs are rejected with an error naming the series; see `check`.

mod bars;
mod bench;
mod check;
mod encode;
mod heatmap;
mod histogram;
mod intervals;
mod jitter;
mod labelled;
pub(crate) mod layout;
mod lines;
mod scatter;
mod theme;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use layout::perr;
use theme::Theme;

pub use bars::{grouped_bars, BarSeries};
pub use bench::{bench_panels, ThroughputGroup, TimingSeries};
pub use heatmap::heatmap;
pub use histogram::{histograms, HistPanel};
pub use intervals::{intervals, IntervalSeries};
pub use jitter::scatter_jitter;
pub use labelled::{labelled_scatter, LabelledPoints};
pub use lines::{lines_distinct, lines_with_bands, LineSeries};
pub use scatter::{scatter_grid, scatter_pairs, ScatterData};
pub use theme::PALETTE;

/// Scale of the evcxr inline preview relative to the paper size.
const PREVIEW_SCALE: f64 = 0.5;

/// The validated data of one figure; drawing is generic over the backend so SVG
/// and PNG come from the same code.
enum Spec {
    Hist(histogram::Hist),
    Scatter(scatter::Scatter),
    Bars(bars::Bars),
    Bench(bench::Bench),
    Lines(lines::Lines),
    Jitter(jitter::Jitter),
    Labelled(labelled::Labelled),
    Heat(heatmap::Heat),
    Intervals(intervals::Intervals),
}

impl Spec {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, theme: &Theme) -> Result<()> {
        match self {
            Spec::Hist(s) => s.draw(root, theme),
            Spec::Scatter(s) => s.draw(root, theme),
            Spec::Bars(s) => s.draw(root, theme),
            Spec::Bench(s) => s.draw(root, theme),
            Spec::Lines(s) => s.draw(root, theme),
            Spec::Jitter(s) => s.draw(root, theme),
            Spec::Labelled(s) => s.draw(root, theme),
            Spec::Heat(s) => s.draw(root, theme),
            Spec::Intervals(s) => s.draw(root, theme),
        }
    }
}

/// A rendered figure: SVG text in memory plus what is needed to render PNGs.
/// A `Figure` that ends an evcxr cell shows inline as a PNG (`evcxr_display`).
///
/// ```
/// use lexalign::plot::heatmap;
/// let fig = heatmap("Cosine", vec!["Seizure".into()], vec!["HP:0001250".into(), "SEIZ".into()],
///     vec![vec![0.09, 0.55]], Some((0.0, 1.0)), "cosine", "example data")?;
/// assert!(fig.svg().starts_with("<svg"));
/// assert_eq!(&fig.png(0.2)?[1..4], b"PNG");
/// fig.evcxr_display(); // in a notebook: EVCXR_BEGIN_CONTENT image/png …
/// # Ok::<(), lexalign::Error>(())
/// ```
#[derive(Clone)]
pub struct Figure {
    spec: Arc<Spec>,
    width: u32,
    height: u32,
    svg: String,
}

impl std::fmt::Debug for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Figure")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("svg_bytes", &self.svg.len())
            .finish()
    }
}

impl Figure {
    /// Renders the SVG at once, so drawing errors surface in the constructor.
    fn new(spec: Spec, (width, height): (u32, u32)) -> Result<Figure> {
        theme::register_fonts();
        let spec = Arc::new(spec);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            spec.draw(&root, &Theme::new(1.0))?;
            root.present().map_err(perr)?;
        }
        Ok(Figure {
            spec,
            width,
            height,
            svg,
        })
    }

    /// The figure as SVG text.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// Paper size in pixels at 300 dpi (width, height); the SVG uses the same units.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Renders the figure as PNG bytes; `scale` 1.0 is the 300-dpi paper size,
    /// 0.5 a screen preview. Fonts and lines scale with it.
    pub fn png(&self, scale: f64) -> Result<Vec<u8>> {
        if !(scale.is_finite() && (0.1..=4.0).contains(&scale)) {
            return Err(Error::param(
                "scale",
                format!("expected 0.1..=4.0, got {scale}"),
            ));
        }
        theme::register_fonts();
        let w = ((self.width as f64 * scale).round() as u32).max(1);
        let h = ((self.height as f64 * scale).round() as u32).max(1);
        let mut rgb = vec![255u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.spec.draw(&root, &Theme::new(scale))?;
            root.present().map_err(perr)?;
        }
        encode::png(&rgb, w, h, 300.0 * scale)
    }

    /// Writes `<dir>/<stem>.png` (300 dpi) and `<dir>/<stem>.svg` atomically,
    /// creating `dir` if needed; returns the paths written.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        if stem.is_empty() || stem.contains(['/', '\\']) || stem.starts_with('.') {
            return Err(Error::param(
                "stem",
                format!("{stem:?}: expected a plain file name without directory or extension"),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let png_path = dir.join(format!("{stem}.png"));
        let svg_path = dir.join(format!("{stem}.svg"));
        crate::io::write_bytes_atomic(&png_path, &self.png(1.0)?)?;
        crate::io::write_bytes_atomic(&svg_path, self.svg.as_bytes())?;
        Ok(vec![png_path, svg_path])
    }

    /// Shows the figure inline in an evcxr (Rust Jupyter) notebook as a PNG preview.
    pub fn evcxr_display(&self) {
        match self.png(PREVIEW_SCALE) {
            Ok(bytes) => println!(
                "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
                encode::base64(&bytes)
            ),
            Err(e) => println!("figure could not be rendered: {e}"),
        }
    }
}
