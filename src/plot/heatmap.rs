//! Heatmap of a labelled matrix (e.g. cosine similarities of a few names against a
//! few identifiers) in viridis, with a colour bar and, when cells are large enough,
//! the value written in each cell.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{self, perr, Area};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::Result;

pub(super) struct Heat {
    title: String,
    caption: String,
    rows: Vec<String>,
    cols: Vec<String>,
    values: Vec<Vec<f64>>,
    range: (f64, f64),
    value_label: String,
}

/// `values[r][c]` for row `r`, column `c`. `value_range` `None` fits the data;
/// values outside a given range take the end colour. `value_label` titles the
/// colour bar (e.g. "cosine").
pub fn heatmap(
    title: &str,
    row_labels: Vec<String>,
    col_labels: Vec<String>,
    values: Vec<Vec<f64>>,
    value_range: Option<(f64, f64)>,
    value_label: &str,
    caption: &str,
) -> Result<Figure> {
    check::non_empty(title, "the list of rows", row_labels.len())?;
    check::non_empty(title, "the list of columns", col_labels.len())?;
    check::range("value_range", value_range)?;
    check::same_len(
        title,
        "values",
        values.len(),
        row_labels.len(),
        "row labels",
    )?;
    for (r, row) in values.iter().enumerate() {
        let name = format!("row {:?}", row_labels[r]);
        check::same_len(title, &name, row.len(), col_labels.len(), "column labels")?;
        check::finite(title, &name, row.iter().copied())?;
    }
    let range = value_range.unwrap_or_else(|| {
        let (lo, hi) = layout::min_max(values.iter().flatten().copied()).unwrap_or((0.0, 1.0));
        layout::widen(lo, hi)
    });
    let spec = Heat {
        title: title.into(),
        caption: caption.into(),
        rows: row_labels,
        cols: col_labels,
        values,
        range,
        value_label: value_label.into(),
    };
    Figure::new(Spec::Heat(spec), (1800, 1200))
}

impl Heat {
    fn t(&self, v: f64) -> f64 {
        (v - self.range.0) / (self.range.1 - self.range.0)
    }

    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let body = layout::frame(root, theme, &self.title, &[], &self.caption)?;
        let (w, h) = body.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        let font = theme.tick_font();
        let gap = theme.px(14.0);

        // Space for row labels (left), colour bar (right) and column labels (below).
        let line_h = theme.px(38.0);
        let row_lines: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| layout::wrap(&body, r, &font, w / 3, false))
            .collect::<Result<_>>()?;
        let mut row_w = 0;
        for l in row_lines.iter().flatten() {
            row_w = row_w.max(layout::text_size(&body, l, &font)?.0);
        }
        let row_w = row_w + gap;
        let cbar_w = theme.px(40.0);
        let cbar_reserve = theme.px(260.0);
        let grid_w = w - row_w - cbar_reserve;
        let cell_w = grid_w / self.cols.len() as i32;
        let wrapped: Vec<Vec<String>> = self
            .cols
            .iter()
            .map(|c| {
                layout::wrap(
                    &body,
                    c,
                    &font,
                    (cell_w - theme.px(6.0)).max(theme.px(20.0)),
                    true,
                )
            })
            .collect::<Result<_>>()?;
        let col_h = wrapped.iter().map(Vec::len).max().unwrap_or(1) as i32 * line_h + gap;
        let grid_h = h - col_h - theme.px(10.0);
        let cell_h = grid_h / self.rows.len() as i32;
        if cell_w < 1 || cell_h < 1 {
            return Err(crate::error::Error::Plot(format!(
                "figure {:?}: {}×{} matrix is too large to draw",
                self.title,
                self.rows.len(),
                self.cols.len()
            )));
        }
        let x0 = row_w;
        let annotate = cell_w >= theme.px(80.0) && cell_h >= theme.px(44.0);
        let ann_size = (cell_h as f64 * 0.4 / theme.scale).min(30.0);

        for (r, row) in self.values.iter().enumerate() {
            let y = r as i32 * cell_h;
            // Row label, right-aligned beside the row, wrapped if long.
            let style = font.pos(Pos::new(HPos::Right, VPos::Top));
            let lines = &row_lines[r];
            let top = y + cell_h / 2 - lines.len() as i32 * line_h / 2;
            for (k, l) in lines.iter().enumerate() {
                body.draw(&Text::new(
                    l.clone(),
                    (x0 - gap, top + k as i32 * line_h),
                    style.clone(),
                ))
                .map_err(perr)?;
            }
            for (c, &v) in row.iter().enumerate() {
                let x = x0 + c as i32 * cell_w;
                let color = theme::viridis(self.t(v));
                body.draw(&Rectangle::new(
                    [(x, y), (x + cell_w, y + cell_h)],
                    color.filled(),
                ))
                .map_err(perr)?;
                if annotate {
                    let tc = if theme::luminance(color) < 0.5 {
                        WHITE
                    } else {
                        BLACK
                    };
                    let style = theme
                        .annotation_font(ann_size, tc)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    body.draw(&Text::new(
                        format!("{v:.2}"),
                        (x + cell_w / 2, y + cell_h / 2),
                        style,
                    ))
                    .map_err(perr)?;
                }
            }
        }
        let grid_bottom = self.rows.len() as i32 * cell_h;
        body.draw(&Rectangle::new(
            [(x0, 0), (x0 + self.cols.len() as i32 * cell_w, grid_bottom)],
            theme::AXIS.stroke_width(theme.pxu(1.5)),
        ))
        .map_err(perr)?;
        for (c, lines) in wrapped.iter().enumerate() {
            let cx = x0 + c as i32 * cell_w + cell_w / 2;
            layout::draw_lines_centered(&body, lines, &font, cx, grid_bottom + gap, line_h)?;
        }
        self.draw_colorbar(
            &body,
            theme,
            x0 + self.cols.len() as i32 * cell_w + theme.px(40.0),
            cbar_w,
            grid_bottom,
        )
    }

    fn draw_colorbar<DB: DrawingBackend>(
        &self,
        body: &Area<DB>,
        theme: &Theme,
        x: i32,
        bw: i32,
        h: i32,
    ) -> Result<()> {
        let steps = 100;
        for i in 0..steps {
            let y1 = h - (i * h) / steps;
            let y0 = h - ((i + 1) * h) / steps;
            let c = theme::viridis((i as f64 + 0.5) / steps as f64);
            body.draw(&Rectangle::new([(x, y0), (x + bw, y1)], c.filled()))
                .map_err(perr)?;
        }
        body.draw(&Rectangle::new(
            [(x, 0), (x + bw, h)],
            theme::AXIS.stroke_width(theme.pxu(1.5)),
        ))
        .map_err(perr)?;
        let font = theme.tick_font().pos(Pos::new(HPos::Left, VPos::Center));
        let (lo, hi) = self.range;
        let mut label_right = x + bw;
        for k in 0..=4 {
            let v = lo + (hi - lo) * k as f64 / 4.0;
            let y = h - (k * h) / 4;
            body.draw(&PathElement::new(
                vec![(x + bw, y), (x + bw + theme.px(10.0), y)],
                theme::AXIS.stroke_width(theme.thin_line()),
            ))
            .map_err(perr)?;
            let text = layout::fmt_tick(&((v * 1000.0).round() / 1000.0));
            let tw = layout::text_size(body, &text, &font)?.0;
            label_right = label_right.max(x + bw + theme.px(16.0) + tw);
            body.draw(&Text::new(text, (x + bw + theme.px(16.0), y), font.clone()))
                .map_err(perr)?;
        }
        if !self.value_label.is_empty() {
            let style = theme
                .axis_label_font()
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Center, VPos::Top));
            body.draw(&Text::new(
                self.value_label.clone(),
                (label_right + theme.px(50.0), h / 2),
                style,
            ))
            .map_err(perr)?;
        }
        Ok(())
    }
}
