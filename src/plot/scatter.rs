//! Scatter plots of two point sets (e.g. names and identifiers in a 2-D PCA),
//! with thin links joining matched points; one panel or a grid of panels.

use plotters::prelude::*;

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::{Error, Result};

/// Two labelled point sets and links `(i, j)` joining `points_left[i]` to
/// `points_right[j]`. Left points are drawn as dots, right points as triangles.
#[derive(Debug, Clone)]
pub struct ScatterData {
    pub points_left: Vec<(f64, f64)>,
    pub points_right: Vec<(f64, f64)>,
    pub left_label: String,
    pub right_label: String,
    pub links: Vec<(usize, usize)>,
    pub x_label: String,
    pub y_label: String,
}

pub(super) struct Scatter {
    title: String,
    caption: String,
    panels: Vec<(Option<String>, ScatterData)>,
    labels: Vec<String>,
}

/// One scatter panel.
pub fn scatter_pairs(title: &str, data: ScatterData, caption: &str) -> Result<Figure> {
    build(title, vec![(None, data)], caption)
}

/// One scatter panel per `(panel_title, data)`, laid out in a grid.
pub fn scatter_grid(
    title: &str,
    panels: &[(String, ScatterData)],
    caption: &str,
) -> Result<Figure> {
    check::non_empty(title, "the list of panels", panels.len())?;
    build(
        title,
        panels
            .iter()
            .map(|(t, d)| (Some(t.clone()), d.clone()))
            .collect(),
        caption,
    )
}

fn build(title: &str, panels: Vec<(Option<String>, ScatterData)>, caption: &str) -> Result<Figure> {
    for (pt, d) in &panels {
        let name = |side: &str| match pt {
            Some(t) => format!("{t} / {side}"),
            None => side.to_string(),
        };
        check::non_empty(
            title,
            &format!("series {:?}", name(&d.left_label)),
            d.points_left.len(),
        )?;
        check::non_empty(
            title,
            &format!("series {:?}", name(&d.right_label)),
            d.points_right.len(),
        )?;
        check::finite(
            title,
            &name(&d.left_label),
            d.points_left.iter().flat_map(|p| [p.0, p.1]),
        )?;
        check::finite(
            title,
            &name(&d.right_label),
            d.points_right.iter().flat_map(|p| [p.0, p.1]),
        )?;
        if let Some(&(i, j)) = d
            .links
            .iter()
            .find(|&&(i, j)| i >= d.points_left.len() || j >= d.points_right.len())
        {
            return Err(Error::data(
                check::ctx(title),
                format!(
                    "link ({i}, {j}) in {:?} is out of range: {} left and {} right points",
                    name("links"),
                    d.points_left.len(),
                    d.points_right.len()
                ),
            ));
        }
    }
    let labels = layout::label_colors(
        panels
            .iter()
            .flat_map(|(_, d)| [d.left_label.as_str(), d.right_label.as_str()]),
    );
    let page = layout::grid_page(panels.len());
    let spec = Scatter {
        title: title.into(),
        caption: caption.into(),
        panels,
        labels,
    };
    Figure::new(Spec::Scatter(spec), page)
}

impl Scatter {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let mut legend = Vec::new();
        for (i, l) in self.labels.iter().enumerate() {
            // A label used on the right side anywhere gets the triangle marker.
            let right = self.panels.iter().any(|(_, d)| &d.right_label == l);
            let mark = if right { Mark::Triangle } else { Mark::Dot };
            legend.push(LegendEntry {
                label: l.clone(),
                color: theme::series_color(i),
                mark,
            });
        }
        if self.panels.iter().any(|(_, d)| !d.links.is_empty()) {
            legend.push(LegendEntry {
                label: "matched pair".into(),
                color: theme::LINK,
                mark: Mark::Link,
            });
        }
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;
        for ((pt, d), area) in self
            .panels
            .iter()
            .zip(layout::grid(&body, self.panels.len()))
        {
            self.draw_panel(&area, theme, pt.as_deref(), d)?;
        }
        Ok(())
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        theme: &Theme,
        panel_title: Option<&str>,
        d: &ScatterData,
    ) -> Result<()> {
        let pts = || d.points_left.iter().chain(&d.points_right);
        let (x0, x1) = layout::min_max(pts().map(|p| p.0)).unwrap_or((0.0, 1.0));
        let (y0, y1) = layout::min_max(pts().map(|p| p.1)).unwrap_or((0.0, 1.0));
        let mut chart = layout::chart(
            area,
            theme,
            panel_title,
            layout::padded_range(x0, x1, 0.05),
            layout::padded_range(y0, y1, 0.05),
            layout::x_area(theme),
            None,
        )?;
        layout::style_mesh(&mut chart, theme, &d.x_label, &d.y_label, 6, None)?;
        let link_style = theme::LINK.mix(0.45).stroke_width(theme.pxu(1.5));
        chart
            .draw_series(d.links.iter().map(|&(i, j)| {
                PathElement::new(vec![d.points_left[i], d.points_right[j]], link_style)
            }))
            .map_err(perr)?;
        let lc = layout::color_of(&self.labels, &d.left_label);
        let rc = layout::color_of(&self.labels, &d.right_label);
        let r = theme.marker();
        chart
            .draw_series(
                d.points_left
                    .iter()
                    .map(|&p| Circle::new(p, r, lc.mix(0.75).filled())),
            )
            .map_err(perr)?;
        chart
            .draw_series(
                d.points_right
                    .iter()
                    .map(|&p| TriangleMarker::new(p, r + 3, rc.mix(0.75).filled())),
            )
            .map_err(perr)?;
        Ok(())
    }
}
