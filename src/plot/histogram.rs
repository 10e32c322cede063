//! Small multiples of overlaid, density-normalised histograms (e.g. cosine of
//! matched pairs vs a mismatched null), one panel per pairing.

use plotters::prelude::*;

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::Theme;
use super::{check, Figure, Spec};
use crate::error::Result;

/// One panel: its title, x-axis label and the labelled samples to overlay.
/// Series with the same label share a colour across panels.
#[derive(Debug, Clone)]
pub struct HistPanel {
    pub title: String,
    pub x_label: String,
    pub series: Vec<(String, Vec<f64>)>,
}

pub(super) struct Hist {
    title: String,
    caption: String,
    panels: Vec<HistPanel>,
    labels: Vec<String>,
}

/// Density histograms, one panel per entry of `panels`, laid out in a grid.
/// Bins are shared within a panel; the y axis is probability density.
pub fn histograms(title: &str, panels: &[HistPanel], caption: &str) -> Result<Figure> {
    check::non_empty(title, "the list of panels", panels.len())?;
    for p in panels {
        check::non_empty(title, &format!("panel {:?}", p.title), p.series.len())?;
        for (label, values) in &p.series {
            let name = format!("{} / {}", p.title, label);
            check::non_empty(title, &format!("series {name:?}"), values.len())?;
            check::finite(title, &name, values.iter().copied())?;
        }
    }
    let labels = layout::label_colors(
        panels
            .iter()
            .flat_map(|p| p.series.iter().map(|s| s.0.as_str())),
    );
    let spec = Hist {
        title: title.into(),
        caption: caption.into(),
        panels: panels.to_vec(),
        labels,
    };
    Figure::new(Spec::Hist(spec), layout::grid_page(panels.len()))
}

/// Shared bin edges for a panel and each series' densities.
fn densities(panel: &HistPanel) -> (Vec<f64>, Vec<Vec<f64>>) {
    let all = panel.series.iter().flat_map(|s| s.1.iter().copied());
    let (lo, hi) = layout::min_max(all).unwrap_or((0.0, 1.0));
    let (lo, hi) = layout::widen(lo, hi);
    let largest = panel.series.iter().map(|s| s.1.len()).max().unwrap_or(1);
    let bins = ((largest as f64).sqrt().round() as usize).clamp(10, 50);
    let width = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| lo + i as f64 * width).collect();
    let dens = panel
        .series
        .iter()
        .map(|(_, v)| {
            let mut counts = vec![0usize; bins];
            for &x in v {
                let b = (((x - lo) / width) as usize).min(bins - 1);
                counts[b] += 1;
            }
            counts
                .iter()
                .map(|&c| c as f64 / (v.len() as f64 * width))
                .collect()
        })
        .collect();
    (edges, dens)
}

impl Hist {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let legend: Vec<LegendEntry> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| LegendEntry {
                label: l.clone(),
                color: super::theme::series_color(i),
                mark: Mark::Fill,
            })
            .collect();
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;
        for (panel, area) in self
            .panels
            .iter()
            .zip(layout::grid(&body, self.panels.len()))
        {
            self.draw_panel(&area, theme, panel)?;
        }
        Ok(())
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        theme: &Theme,
        panel: &HistPanel,
    ) -> Result<()> {
        let (edges, dens) = densities(panel);
        let ymax = dens.iter().flatten().copied().fold(0.0, f64::max);
        let ymax = if ymax > 0.0 { ymax * 1.08 } else { 1.0 };
        let (x0, x1) = (edges[0], edges[edges.len() - 1]);
        let pad = (x1 - x0) * 0.02;
        let mut chart = layout::chart(
            area,
            theme,
            Some(&panel.title),
            (x0 - pad, x1 + pad),
            (0.0, ymax),
            layout::x_area(theme),
            None,
        )?;
        layout::style_mesh(&mut chart, theme, &panel.x_label, "density", 6, None)?;
        // Step outlines: up and across each bin.
        let outlines: Vec<(RGBColor, Vec<(f64, f64)>)> = panel
            .series
            .iter()
            .zip(&dens)
            .map(|((label, _), d)| {
                let mut outline = vec![(edges[0], 0.0)];
                for (i, &h) in d.iter().enumerate() {
                    outline.push((edges[i], h));
                    outline.push((edges[i + 1], h));
                }
                outline.push((edges[edges.len() - 1], 0.0));
                (layout::color_of(&self.labels, label), outline)
            })
            .collect();
        // All fills first, then all outlines, so no outline is hidden by a fill.
        for (color, outline) in &outlines {
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline.clone(),
                    color.mix(0.30).filled(),
                )))
                .map_err(perr)?;
        }
        for (color, outline) in outlines {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    outline,
                    color.stroke_width(theme.thin_line() + 1),
                )))
                .map_err(perr)?;
        }
        Ok(())
    }
}
