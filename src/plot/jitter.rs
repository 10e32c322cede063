//! Strip plot for an integer x (e.g. identifier token count) against a score:
//! points are dodged by series and jittered deterministically, with per-x means
//! as large outlined markers joined by a line.

use plotters::prelude::*;

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::Result;

pub(super) struct Jitter {
    title: String,
    caption: String,
    x_label: String,
    y_label: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

/// One colour per series; x values are rounded to integers for grouping.
pub fn scatter_jitter(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: Vec<(String, Vec<(f64, f64)>)>,
    caption: &str,
) -> Result<Figure> {
    check::non_empty(title, "the list of series", series.len())?;
    for (label, pts) in &series {
        check::non_empty(title, &format!("series {label:?}"), pts.len())?;
        check::finite(title, label, pts.iter().flat_map(|p| [p.0, p.1]))?;
    }
    let spec = Jitter {
        title: title.into(),
        caption: caption.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        series,
    };
    Figure::new(Spec::Jitter(spec), (1800, 1200))
}

/// Deterministic pseudo-random value in [-0.5, 0.5) from two indices (SplitMix64).
fn jitter(a: usize, b: usize) -> f64 {
    let mut z = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// Means of y per rounded x, sorted by x.
fn means(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut by_x: std::collections::BTreeMap<i64, (f64, usize)> = Default::default();
    for &(x, y) in points {
        let e = by_x.entry(x.round() as i64).or_insert((0.0, 0));
        e.0 += y;
        e.1 += 1;
    }
    by_x.into_iter()
        .map(|(x, (s, n))| (x as f64, s / n as f64))
        .collect()
}

impl Jitter {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let legend: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                label: s.0.clone(),
                color: theme::series_color(i),
                mark: Mark::LineDot,
            })
            .collect();
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;

        let pts = || self.series.iter().flat_map(|s| s.1.iter());
        let (x0, x1) = layout::min_max(pts().map(|p| p.0.round())).unwrap_or((0.0, 1.0));
        let (y0, y1) = layout::min_max(pts().map(|p| p.1)).unwrap_or((0.0, 1.0));
        let ticks = (x1 - x0) as usize + 1;
        let int_only = |v: &f64| {
            if (v - v.round()).abs() < 1e-6 {
                format!("{}", v.round() as i64)
            } else {
                String::new()
            }
        };
        let mut chart = layout::chart(
            &body,
            theme,
            None,
            (x0 - 0.6, x1 + 0.6),
            layout::padded_range(y0, y1, 0.05),
            layout::x_area(theme),
            None,
        )?;
        layout::style_mesh(
            &mut chart,
            theme,
            &self.x_label,
            &self.y_label,
            ticks.min(25),
            Some(&int_only),
        )?;

        // Each series gets its own lane within an x slot.
        let k = self.series.len() as f64;
        let lane = 0.8 / k;
        let offset = |s: usize| -0.4 + (s as f64 + 0.5) * lane;
        for (s, (_, points)) in self.series.iter().enumerate() {
            let c = theme::series_color(s);
            chart
                .draw_series(points.iter().enumerate().map(|(i, &(x, y))| {
                    let jx = x.round() + offset(s) + jitter(s, i) * lane * 0.8;
                    Circle::new((jx, y), theme.px(5.0), c.mix(0.35).filled())
                }))
                .map_err(perr)?;
        }
        for (s, (_, points)) in self.series.iter().enumerate() {
            let c = theme::series_color(s);
            let m: Vec<(f64, f64)> = means(points)
                .into_iter()
                .map(|(x, y)| (x + offset(s), y))
                .collect();
            chart
                .draw_series(plotters::series::LineSeries::new(
                    m.clone(),
                    c.stroke_width(theme.thin_line() + 1),
                ))
                .map_err(perr)?;
            chart
                .draw_series(
                    m.iter()
                        .map(|&p| Circle::new(p, theme.px(11.0), c.filled())),
                )
                .map_err(perr)?;
            chart
                .draw_series(
                    m.iter().map(|&p| {
                        Circle::new(p, theme.px(11.0), BLACK.stroke_width(theme.pxu(2.0)))
                    }),
                )
                .map_err(perr)?;
        }
        Ok(())
    }
}
