//! Grouped vertical bars (e.g. retrieval top-1/top-10/MRR per pairing and
//! direction, or probe accuracy on train vs withheld), with optional intervals.
//! Long group names are wrapped at hyphens/underscores under each group.

use plotters::prelude::*;

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::Result;

/// One bar per group; `intervals`, if given, are `(low, high)` per group drawn as
/// error bars (e.g. a bootstrap 95% CI).
#[derive(Debug, Clone)]
pub struct BarSeries {
    pub label: String,
    pub values: Vec<f64>,
    pub intervals: Option<Vec<(f64, f64)>>,
}

impl BarSeries {
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Self {
        BarSeries {
            label: label.into(),
            values,
            intervals: None,
        }
    }
    /// Adds `(low, high)` error bars, one per group.
    pub fn with_intervals(mut self, intervals: Vec<(f64, f64)>) -> Self {
        self.intervals = Some(intervals);
        self
    }
}

pub(super) struct Bars {
    title: String,
    caption: String,
    groups: Vec<String>,
    series: Vec<BarSeries>,
    y_label: String,
    y_range: (f64, f64),
}

/// Grouped bars: one cluster per group, one coloured bar per series. `y_range`
/// `None` fits the data (always including 0); bars beyond a given range are cut.
pub fn grouped_bars(
    title: &str,
    groups: Vec<String>,
    series: Vec<BarSeries>,
    y_label: &str,
    y_range: Option<(f64, f64)>,
    caption: &str,
) -> Result<Figure> {
    check::non_empty(title, "the list of groups", groups.len())?;
    check::non_empty(title, "the list of series", series.len())?;
    check::range("y_range", y_range)?;
    for s in &series {
        check::same_len(
            title,
            &format!("series {:?}", s.label),
            s.values.len(),
            groups.len(),
            "groups",
        )?;
        check::finite(title, &s.label, s.values.iter().copied())?;
        if let Some(iv) = &s.intervals {
            let what = format!("intervals of series {:?}", s.label);
            check::same_len(title, &what, iv.len(), groups.len(), "groups")?;
            check::finite(title, &what, iv.iter().flat_map(|p| [p.0, p.1]))?;
        }
    }
    let y_range = y_range.unwrap_or_else(|| {
        let vals = series.iter().flat_map(|s| {
            s.values
                .iter()
                .copied()
                .chain(s.intervals.iter().flatten().flat_map(|p| [p.0, p.1]))
        });
        let (lo, hi) = layout::min_max(vals).unwrap_or((0.0, 1.0));
        let (lo, hi) = layout::widen(lo.min(0.0), hi.max(0.0));
        let span = hi - lo;
        (
            if lo < 0.0 { lo - 0.06 * span } else { lo },
            if hi > 0.0 { hi + 0.08 * span } else { hi },
        )
    });
    let spec = Bars {
        title: title.into(),
        caption: caption.into(),
        groups,
        series,
        y_label: y_label.into(),
        y_range,
    };
    Figure::new(Spec::Bars(spec), (1800, 1200))
}

impl Bars {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let legend: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                label: s.label.clone(),
                color: theme::series_color(i),
                mark: Mark::Solid,
            })
            .collect();
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;

        // Wrap group names to the width of a cluster to size the x-axis area.
        let n = self.groups.len();
        let font = theme.tick_font();
        let (y0, y1) = self.y_range;
        let y_area = layout::y_area(&body, theme, y0, y1)?;
        let plot_w = body.dim_in_pixel().0 as i32 - y_area - theme.px(60.0);
        let slot = (plot_w / n as i32) - theme.px(12.0);
        let wrapped: Vec<Vec<String>> = self
            .groups
            .iter()
            .map(|g| layout::wrap(&body, g, &font, slot.max(theme.px(40.0)), true))
            .collect::<Result<_>>()?;
        let max_lines = wrapped.iter().map(Vec::len).max().unwrap_or(1) as i32;
        let line_h = theme.px(38.0);
        let x_area = theme.px(24.0) + max_lines * line_h + theme.px(20.0);

        let mut chart = layout::chart(
            &body,
            theme,
            None,
            (0.0, n as f64),
            (y0, y1),
            x_area,
            Some(y_area),
        )?;
        let no_ticks = |_: &f64| String::new();
        layout::style_mesh(&mut chart, theme, "", &self.y_label, 0, Some(&no_ticks))?;

        let k = self.series.len() as f64;
        let inner = 0.8 / k;
        let clamp = |v: f64| v.clamp(y0, y1);
        let base = clamp(0.0);
        for (j, s) in self.series.iter().enumerate() {
            let c = theme::series_color(j);
            let left = |i: usize| i as f64 + 0.1 + j as f64 * inner;
            let rect = |i: usize, v: f64| {
                [
                    (left(i) + 0.06 * inner, base),
                    (left(i) + 0.94 * inner, clamp(v)),
                ]
            };
            chart
                .draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| Rectangle::new(rect(i, v), c.mix(0.85).filled())),
                )
                .map_err(perr)?;
            chart
                .draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| Rectangle::new(rect(i, v), c.stroke_width(theme.pxu(1.5)))),
                )
                .map_err(perr)?;
            if let Some(iv) = &s.intervals {
                let style = theme::TEXT.stroke_width(theme.thin_line() + 1);
                for (i, &(lo, hi)) in iv.iter().enumerate() {
                    let x = left(i) + 0.5 * inner;
                    let cap = 0.18 * inner;
                    let (lo, hi) = (clamp(lo), clamp(hi));
                    for seg in [
                        vec![(x, lo), (x, hi)],
                        vec![(x - cap, lo), (x + cap, lo)],
                        vec![(x - cap, hi), (x + cap, hi)],
                    ] {
                        chart
                            .draw_series(std::iter::once(PathElement::new(seg, style)))
                            .map_err(perr)?;
                    }
                }
            }
        }

        // Group names under each cluster.
        let origin = body.get_base_pixel();
        for (i, lines) in wrapped.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, y0));
            let top = py - origin.1 + theme.px(18.0);
            layout::draw_lines_centered(&body, lines, &font, px - origin.0, top, line_h)?;
        }
        Ok(())
    }
}
