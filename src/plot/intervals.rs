//! Estimates with intervals per category, categories down the y axis (a forest
//! plot): logistic coefficients, or AUC per predictor, one colour per series.

use plotters::prelude::*;

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::{Error, Result};

/// One series: `(estimate, low, high)` per category (`None` = not available).
#[derive(Debug, Clone)]
pub struct IntervalSeries {
    pub label: String,
    pub values: Vec<Option<(f64, f64, f64)>>,
}

pub(super) struct Intervals {
    title: String,
    caption: String,
    x_label: String,
    categories: Vec<String>,
    series: Vec<IntervalSeries>,
    reference: Option<(f64, String)>,
}

/// A forest plot: one row per category, a dot with a horizontal interval per
/// series (rows are offset slightly per series), and an optional dashed vertical
/// reference (0 for coefficients, 0.5 for AUCs).
pub fn intervals(
    title: &str,
    x_label: &str,
    categories: Vec<String>,
    series: Vec<IntervalSeries>,
    reference_x: Option<(f64, String)>,
    caption: &str,
) -> Result<Figure> {
    check::non_empty(title, "the list of categories", categories.len())?;
    check::non_empty(title, "the list of series", series.len())?;
    for s in &series {
        check::same_len(
            title,
            &s.label,
            s.values.len(),
            categories.len(),
            "categories",
        )?;
        for (i, v) in s.values.iter().enumerate() {
            if let Some((e, lo, hi)) = *v {
                if !(e.is_finite() && lo.is_finite() && hi.is_finite() && lo <= e && e <= hi) {
                    return Err(Error::data(
                        check::ctx(title),
                        format!(
                            "series {:?}, {}: ({e}, {lo}, {hi}) must be finite with low <= estimate <= high",
                            s.label, categories[i]
                        ),
                    ));
                }
            }
        }
    }
    let height = (600 + 90 * categories.len() as u32 * series.len().max(1) as u32).min(3000);
    let spec = Intervals {
        title: title.into(),
        caption: caption.into(),
        x_label: x_label.into(),
        categories,
        series,
        reference: reference_x,
    };
    Figure::new(Spec::Intervals(spec), (1800, height.max(1000)))
}

impl Intervals {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let mut legend: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                label: s.label.clone(),
                color: theme::series_color(i),
                mark: Mark::Dot,
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
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten().flat_map(|v| [v.1, v.2]))
            .chain(self.reference.iter().map(|r| r.0));
        let (x0, x1) = layout::min_max(xs).unwrap_or((0.0, 1.0));
        let (x0, x1) = layout::padded_range(x0, x1, 0.06);
        let k = self.categories.len() as f64;
        let tick = theme.tick_font();
        let mut widest = 0;
        for c in &self.categories {
            widest = widest.max(layout::text_size(&body, c, &tick)?.0);
        }
        let mut chart = ChartBuilder::on(&body)
            .margin(theme.px(20.0))
            .margin_right(theme.px(40.0))
            .x_label_area_size(layout::x_area(theme))
            .y_label_area_size(widest + theme.px(30.0))
            .build_cartesian_2d(x0..x1, -0.5..k - 0.5)
            .map_err(perr)?;
        // Category i is drawn at y = k − 1 − i, so the first is on top.
        let name_at = |y: &f64| -> String {
            let i = k - 1.0 - y.round();
            if (y - y.round()).abs() < 1e-6 && i >= 0.0 && i < k {
                self.categories[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(theme::GRID.stroke_width(theme.thin_line()))
            .axis_style(theme::AXIS.stroke_width(theme.thin_line()))
            .x_labels(8)
            .y_labels(self.categories.len() + 1)
            .label_style(tick)
            .axis_desc_style(theme.axis_label_font())
            .x_desc(self.x_label.as_str())
            .x_label_formatter(&layout::fmt_tick)
            .y_label_formatter(&name_at)
            .draw()
            .map_err(perr)?;
        if let Some((x, _)) = &self.reference {
            let dash = theme.px(12.0);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(*x, -0.5), (*x, k - 0.5)],
                    dash,
                    dash,
                    theme::CAPTION.stroke_width(theme.thin_line() + 1),
                ))
                .map_err(perr)?;
        }
        let m = self.series.len() as f64;
        for (j, s) in self.series.iter().enumerate() {
            let c = theme::series_color(j);
            // Series spread over ±0.3 of a row.
            let offset = if m > 1.0 {
                0.3 - 0.6 * j as f64 / (m - 1.0)
            } else {
                0.0
            };
            for (i, v) in s.values.iter().enumerate() {
                let Some((e, lo, hi)) = *v else { continue };
                let y = k - 1.0 - i as f64 + offset;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(lo, y), (hi, y)],
                        c.stroke_width(theme.line_width()),
                    )))
                    .map_err(perr)?;
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (e, y),
                        theme.marker() + 3,
                        c.filled(),
                    )))
                    .map_err(perr)?;
            }
        }
        Ok(())
    }
}
