//! Lines with confidence bands (e.g. lexicalisation score by popularity bin, one
//! line per pairing), with an optional dashed reference level such as chance.

use plotters::prelude::*;

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::{Error, Result};

/// Points `(x, y, low, high)`; the band spans low..high. A point whose low and
/// high are both NaN has no interval (the band is interrupted there); every other
/// value must be finite.
#[derive(Debug, Clone)]
pub struct LineSeries {
    pub label: String,
    pub points: Vec<(f64, f64, f64, f64)>,
}

pub(super) struct Lines {
    title: String,
    caption: String,
    x_label: String,
    y_label: String,
    series: Vec<LineSeries>,
    reference: Option<(f64, String)>,
    /// Each series its own line style and marker as well as colour.
    distinct: bool,
}

/// [`lines_with_bands`] where each series also has its own dash pattern and marker
/// (a few markers along each line), so overlapping lines can be told apart.
pub fn lines_distinct(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: Vec<LineSeries>,
    reference_y: Option<(f64, String)>,
    caption: &str,
) -> Result<Figure> {
    build(title, x_label, y_label, series, reference_y, caption, true)
}

/// One line per series with a shaded band; points are drawn sorted by x.
pub fn lines_with_bands(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: Vec<LineSeries>,
    reference_y: Option<(f64, String)>,
    caption: &str,
) -> Result<Figure> {
    build(title, x_label, y_label, series, reference_y, caption, false)
}

fn build(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: Vec<LineSeries>,
    reference_y: Option<(f64, String)>,
    caption: &str,
    distinct: bool,
) -> Result<Figure> {
    check::non_empty(title, "the list of series", series.len())?;
    let mut series = series;
    for s in &mut series {
        check::non_empty(title, &format!("series {:?}", s.label), s.points.len())?;
        check::finite(title, &s.label, s.points.iter().flat_map(|p| [p.0, p.1]))?;
        for (i, &(_, y, lo, hi)) in s.points.iter().enumerate() {
            let no_interval = lo.is_nan() && hi.is_nan();
            if !(no_interval || (lo.is_finite() && hi.is_finite() && lo <= hi)) {
                return Err(Error::data(
                    check::ctx(title),
                    format!(
                        "series {:?} point {i} (y = {y}): interval ({lo}, {hi}) must be finite with low <= high, \
                         or both NaN for no interval",
                        s.label
                    ),
                ));
            }
        }
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    if let Some((y, label)) = &reference_y {
        check::finite(title, label, [*y])?;
    }
    let spec = Lines {
        title: title.into(),
        caption: caption.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        series,
        reference: reference_y,
        distinct,
    };
    Figure::new(Spec::Lines(spec), (1800, 1200))
}

impl Lines {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let mut legend: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                label: s.label.clone(),
                color: theme::series_color(i),
                mark: if self.distinct {
                    Mark::Styled(style_of(i))
                } else {
                    Mark::LineDot
                },
            })
            .collect();
        if let Some((_, label)) = &self.reference {
            legend.push(LegendEntry {
                label: label.clone(),
                color: theme::CAPTION,
                mark: Mark::Dashed,
            });
        }
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;

        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let (x0, x1) = layout::min_max(pts().map(|p| p.0)).unwrap_or((0.0, 1.0));
        let ys = pts()
            .flat_map(|p| [p.1, p.2, p.3])
            .filter(|v| v.is_finite())
            .chain(self.reference.iter().map(|r| r.0));
        let (y0, y1) = layout::min_max(ys).unwrap_or((0.0, 1.0));
        let mut chart = layout::chart(
            &body,
            theme,
            None,
            layout::padded_range(x0, x1, 0.04),
            layout::padded_range(y0, y1, 0.06),
            layout::x_area(theme),
            None,
        )?;
        layout::style_mesh(&mut chart, theme, &self.x_label, &self.y_label, 10, None)?;

        if let Some((y, _)) = &self.reference {
            let (a, b) = layout::padded_range(x0, x1, 0.04);
            let dash = theme.px(12.0);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(a, *y), (b, *y)],
                    dash,
                    dash,
                    theme::CAPTION.stroke_width(theme.thin_line() + 1),
                ))
                .map_err(perr)?;
        }
        for (i, s) in self.series.iter().enumerate() {
            let c = theme::series_color(i);
            // Bands over runs of points that have an interval.
            for run in s.points.split(|p| p.2.is_nan()) {
                if run.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> = run.iter().map(|p| (p.0, p.3)).collect();
                    poly.extend(run.iter().rev().map(|p| (p.0, p.2)));
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.15).filled())))
                        .map_err(perr)?;
                } else if let Some(p) = run.first() {
                    // A lone interval: an error bar.
                    let seg = vec![(p.0, p.2), (p.0, p.3)];
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            seg,
                            c.mix(0.5).stroke_width(theme.line_width()),
                        )))
                        .map_err(perr)?;
                }
            }
        }
        for (i, s) in self.series.iter().enumerate() {
            let c = theme::series_color(i);
            if self.distinct {
                let (on, off) = layout::line_style(style_of(i));
                let style = c.stroke_width(theme.line_width());
                let pts = s.points.iter().map(|p| (p.0, p.1));
                if on == 0.0 {
                    chart
                        .draw_series(plotters::series::LineSeries::new(pts, style))
                        .map_err(perr)?;
                } else {
                    chart
                        .draw_series(DashedLineSeries::new(
                            pts,
                            theme.px(on),
                            theme.px(off),
                            style,
                        ))
                        .map_err(perr)?;
                }
                // Eight markers along the line, offset per series so they do not coincide.
                let m = s.points.len();
                let plot = chart.plotting_area();
                for t in 0..8 {
                    let k =
                        ((t as f64 + 0.5 + i as f64 / 7.0) / 8.0 * (m - 1) as f64).round() as usize;
                    let p = s.points[k.min(m - 1)];
                    plot.draw(
                        &(EmptyElement::at((p.0, p.1))
                            + layout::marker_shape(style_of(i), theme.marker() + 2, c)),
                    )
                    .map_err(perr)?;
                }
                continue;
            }
            chart
                .draw_series(plotters::series::LineSeries::new(
                    s.points.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(theme.line_width()),
                ))
                .map_err(perr)?;
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| Circle::new((p.0, p.1), theme.marker() + 1, c.filled())),
                )
                .map_err(perr)?;
        }
        Ok(())
    }
}

/// Line style (dash and marker) of series `i`: shifted by one each time the palette
/// wraps, so no two of the first 32 series share both colour and style.
fn style_of(i: usize) -> usize {
    i + i / theme::PALETTE.len()
}
