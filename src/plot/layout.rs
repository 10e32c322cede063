//! Page layout shared by all figure kinds: the frame (title, legend strip, wrapped
//! caption), the grid of small multiples, text wrapping, axis styling and ranges.
//! The legend sits in its own strip above the panels so it never covers data.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::theme::{self, Theme};
use crate::error::{Error, Result};

/// Any drawing error as a plot error.
pub fn perr<E: std::fmt::Display>(e: E) -> Error {
    Error::Plot(e.to_string())
}

/// How a legend entry's swatch is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// A semi-transparent filled box (histograms).
    Fill,
    /// A solid box (bars).
    Solid,
    /// A line with a round marker (line series).
    LineDot,
    /// A round marker.
    Dot,
    /// A triangular marker.
    Triangle,
    /// A thin grey line (links between points).
    Link,
    /// A dashed grey line (reference line).
    Dashed,
    /// Line style `k` of [`line_style`] with its marker (series told apart without colour).
    Styled(usize),
}

/// Dash length and gap (pixels at scale 1) of line style `k`; (0, 0) = solid.
pub fn line_style(k: usize) -> (f64, f64) {
    [(0.0, 0.0), (18.0, 9.0), (7.0, 7.0), (2.5, 6.0)][k % 4]
}

/// Marker `k` (circle, triangle, square, cross) as a pixel-offset element.
pub fn marker_shape<DB: DrawingBackend>(
    k: usize,
    size: i32,
    c: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    match k % 4 {
        0 => Circle::new((0, 0), size, c.filled()).into_dyn(),
        1 => TriangleMarker::new((0, 0), size + 2, c.filled()).into_dyn(),
        2 => Rectangle::new([(-size, -size), (size, size)], c.filled()).into_dyn(),
        _ => Cross::new((0, 0), size + 1, c.stroke_width(3)).into_dyn(),
    }
}

#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub label: String,
    pub color: RGBColor,
    pub mark: Mark,
}

pub type Area<DB> = DrawingArea<DB, Shift>;
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Width and height of `text` in `style`, as drawn on `area`.
pub fn text_size<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    style: &TextStyle,
) -> Result<(i32, i32)> {
    let (w, h) = area.estimate_text_size(text, style).map_err(perr)?;
    Ok((w as i32, h as i32))
}

/// Greedy line wrapping to `max_width` pixels. Lines break after whitespace and,
/// if `at_punct`, also after `-`, `_`, `/`, `:` and `·`; a piece wider than a line is
/// split between characters, so no text is ever clipped.
pub fn wrap<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    style: &TextStyle,
    max_width: i32,
    at_punct: bool,
) -> Result<Vec<String>> {
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if c.is_whitespace() || (at_punct && matches!(c, '-' | '_' | '/' | ':' | '·')) {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    let width = |s: &str| -> Result<i32> { Ok(text_size(area, s.trim_end(), style)?.0) };
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        let candidate = format!("{line}{piece}");
        if line.is_empty() || width(&candidate)? <= max_width {
            line = candidate;
        } else {
            lines.push(line.trim_end().to_string());
            line = piece;
        }
        // Split a single over-long piece between characters.
        while width(&line)? > max_width && line.chars().count() > 1 {
            let chars: Vec<char> = line.chars().collect();
            let mut cut = chars.len() - 1;
            while cut > 1 && width(&chars[..cut].iter().collect::<String>())? > max_width {
                cut -= 1;
            }
            lines.push(chars[..cut].iter().collect());
            line = chars[cut..].iter().collect();
        }
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    Ok(lines)
}

/// Draws `lines` centred on `cx`, the first line's top at `top`; returns the height used.
pub fn draw_lines_centered<DB: DrawingBackend>(
    area: &Area<DB>,
    lines: &[String],
    style: &TextStyle,
    cx: i32,
    top: i32,
    line_height: i32,
) -> Result<i32> {
    let centered = style.pos(Pos::new(HPos::Center, VPos::Top));
    for (i, l) in lines.iter().enumerate() {
        area.draw(&Text::new(
            l.clone(),
            (cx, top + i as i32 * line_height),
            centered.clone(),
        ))
        .map_err(perr)?;
    }
    Ok(lines.len() as i32 * line_height)
}

/// Fills the page white and draws the title, legend strip and caption; returns the
/// area left for panels.
pub fn frame<DB: DrawingBackend>(
    root: &Area<DB>,
    theme: &Theme,
    title: &str,
    legend: &[LegendEntry],
    caption: &str,
) -> Result<Area<DB>> {
    root.fill(&WHITE).map_err(perr)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let m = theme.margin();
    let inner = w - 2 * m;

    // Title, wrapped if needed.
    let tf = theme.title_font();
    let title_lines = wrap(root, title, &tf, inner, false)?;
    let mut top = m;
    top += draw_lines_centered(root, &title_lines, &tf, w / 2, top, theme.px(62.0))?;
    top += theme.px(18.0);

    // Legend strip.
    if !legend.is_empty() {
        top += draw_legend(root, theme, legend, top, inner, w / 2)?;
        top += theme.px(10.0);
    }

    // Caption: wrap; shrink the font while it needs more than three lines.
    let mut size = Theme::CAPTION_SIZE;
    let (mut lines, mut cf);
    loop {
        cf = theme.caption_font(size);
        lines = wrap(root, caption, &cf, inner, false)?;
        if lines.len() <= 3 || size <= 18.0 {
            break;
        }
        size -= 2.0;
    }
    let line_h = theme.px(size * 1.3);
    let cap_h = lines.len() as i32 * line_h;
    let cap_top = h - m / 2 - cap_h;
    draw_lines_centered(root, &lines, &cf, w / 2, cap_top, line_h)?;

    let bottom = cap_top - theme.px(12.0);
    if bottom - top < theme.px(200.0) {
        return Err(Error::Plot(format!(
            "figure {title:?}: title, legend and caption leave no room for the plot"
        )));
    }
    Ok(root
        .clone()
        .shrink((m / 2, top), ((w - m).max(1) as u32, (bottom - top) as u32)))
}

/// Draws legend entries in centred rows starting at `top`; returns the height used.
fn draw_legend<DB: DrawingBackend>(
    root: &Area<DB>,
    theme: &Theme,
    entries: &[LegendEntry],
    top: i32,
    max_width: i32,
    cx: i32,
) -> Result<i32> {
    let font = theme.legend_font();
    let swatch = theme.px(64.0);
    let gap = theme.px(14.0);
    let spacing = theme.px(48.0);
    let row_h = theme.px(50.0);
    // Lay entries out in rows.
    let mut rows: Vec<Vec<(usize, i32)>> = vec![Vec::new()];
    let mut row_w = 0;
    for (i, e) in entries.iter().enumerate() {
        let ew = swatch + gap + text_size(root, &e.label, &font)?.0;
        let extra = if rows.last().is_none_or(|r| r.is_empty()) {
            ew
        } else {
            spacing + ew
        };
        if row_w + extra > max_width && !rows.last().unwrap().is_empty() {
            rows.push(Vec::new());
            row_w = ew;
        } else {
            row_w += extra;
        }
        rows.last_mut().unwrap().push((i, ew));
    }
    for (r, row) in rows.iter().enumerate() {
        let total: i32 =
            row.iter().map(|(_, w)| *w).sum::<i32>() + spacing * (row.len() as i32 - 1);
        let mut x = cx - total / 2;
        let yc = top + r as i32 * row_h + row_h / 2;
        for &(i, ew) in row {
            draw_swatch(root, theme, &entries[i], x, yc, swatch)?;
            let style = font.pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                entries[i].label.clone(),
                (x + swatch + gap, yc),
                style,
            ))
            .map_err(perr)?;
            x += ew + spacing;
        }
    }
    Ok(rows.len() as i32 * row_h)
}

fn draw_swatch<DB: DrawingBackend>(
    root: &Area<DB>,
    theme: &Theme,
    e: &LegendEntry,
    x: i32,
    yc: i32,
    w: i32,
) -> Result<()> {
    let c = e.color;
    let half = theme.px(14.0);
    let mid = (x + w / 2, yc);
    match e.mark {
        Mark::Fill => {
            root.draw(&Rectangle::new(
                [(x, yc - half), (x + w, yc + half)],
                c.mix(0.35).filled(),
            ))
            .map_err(perr)?;
            root.draw(&Rectangle::new(
                [(x, yc - half), (x + w, yc + half)],
                c.stroke_width(theme.thin_line()),
            ))
            .map_err(perr)?;
        }
        Mark::Solid => {
            root.draw(&Rectangle::new(
                [(x, yc - half), (x + w, yc + half)],
                c.mix(0.85).filled(),
            ))
            .map_err(perr)?;
        }
        Mark::LineDot => {
            root.draw(&PathElement::new(
                vec![(x, yc), (x + w, yc)],
                c.stroke_width(theme.line_width()),
            ))
            .map_err(perr)?;
            root.draw(&Circle::new(mid, theme.marker() + 2, c.filled()))
                .map_err(perr)?;
        }
        Mark::Dot => {
            root.draw(&Circle::new(mid, theme.marker() + 2, c.filled()))
                .map_err(perr)?;
        }
        Mark::Triangle => {
            root.draw(&TriangleMarker::new(mid, theme.marker() + 4, c.filled()))
                .map_err(perr)?;
        }
        Mark::Link => {
            root.draw(&PathElement::new(
                vec![(x, yc), (x + w, yc)],
                c.stroke_width(theme.thin_line()),
            ))
            .map_err(perr)?;
        }
        Mark::Styled(k) => {
            let (on, off) = line_style(k);
            if on == 0.0 {
                root.draw(&PathElement::new(
                    vec![(x, yc), (x + w, yc)],
                    c.stroke_width(theme.line_width()),
                ))
                .map_err(perr)?;
            } else {
                let (on, off) = (theme.px(on), theme.px(off));
                let mut sx = x;
                while sx < x + w {
                    let ex = (sx + on).min(x + w);
                    root.draw(&PathElement::new(
                        vec![(sx, yc), (ex, yc)],
                        c.stroke_width(theme.line_width()),
                    ))
                    .map_err(perr)?;
                    sx += on + off;
                }
            }
            root.draw(&(EmptyElement::at(mid) + marker_shape(k, theme.marker() + 2, c)))
                .map_err(perr)?;
        }
        Mark::Dashed => {
            let dash = theme.px(12.0);
            let mut sx = x;
            while sx < x + w {
                let ex = (sx + dash).min(x + w);
                root.draw(&PathElement::new(
                    vec![(sx, yc), (ex, yc)],
                    c.stroke_width(theme.thin_line() + 1),
                ))
                .map_err(perr)?;
                sx += 2 * dash;
            }
        }
    }
    Ok(())
}

/// Rows and columns for `n` small multiples.
pub fn grid_dims(n: usize) -> (usize, usize) {
    let cols = match n {
        0..=3 => n.max(1),
        4 => 2,
        5..=9 => 3,
        _ => 4,
    };
    (n.div_ceil(cols), cols)
}

/// Page size in pixels at scale 1 for `n` panels.
pub fn grid_page(n: usize) -> (u32, u32) {
    let (rows, cols) = grid_dims(n);
    if n <= 1 {
        return (1800, 1200);
    }
    let panel_w = if cols == 2 { 1000 } else { 900 };
    (cols as u32 * panel_w, rows as u32 * 760 + 330)
}

/// Splits `body` into the panel areas of a grid for `n` panels (row-major).
pub fn grid<DB: DrawingBackend>(body: &Area<DB>, n: usize) -> Vec<Area<DB>> {
    let (rows, cols) = grid_dims(n);
    body.split_evenly((rows, cols))
        .into_iter()
        .take(n)
        .collect()
}

/// Builds a cartesian f64 chart in `area`, with an optional bold panel title;
/// `y_area` `None` sizes the y-axis area to the tick labels.
pub fn chart<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    theme: &Theme,
    panel_title: Option<&str>,
    x: (f64, f64),
    y: (f64, f64),
    x_area: i32,
    y_area: Option<i32>,
) -> Result<Chart<'a, DB>> {
    let y_area = match y_area {
        Some(w) => w,
        None => self::y_area(area, theme, y.0, y.1)?,
    };
    let mut b = ChartBuilder::on(area);
    b.margin(theme.px(20.0))
        .margin_right(theme.px(40.0))
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if let Some(t) = panel_title {
        b.caption(t, theme.panel_title_font());
    }
    b.build_cartesian_2d(x.0..x.1, y.0..y.1).map_err(perr)
}

/// Height of the x-axis area: tick labels plus the axis title.
pub fn x_area(theme: &Theme) -> i32 {
    theme.px(118.0)
}

/// Width of the y-axis area for values in `lo..hi`: the widest likely tick label
/// plus the rotated axis title.
pub fn y_area<DB: DrawingBackend>(area: &Area<DB>, theme: &Theme, lo: f64, hi: f64) -> Result<i32> {
    let step = nice_step((hi - lo) / 6.0);
    let mut widest = text_size(area, "0", &theme.tick_font())?.0;
    let mut v = (lo / step).ceil() * step;
    while v <= hi && step > 0.0 {
        widest = widest.max(text_size(area, &fmt_tick(&v), &theme.tick_font())?.0);
        v += step;
    }
    Ok(widest + theme.px(10.0 + 14.0 + 38.0 + 26.0))
}

/// A 1, 2 or 5 times a power of ten near `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// Light grid, dark axes, readable ticks and axis titles. `x_fmt` replaces the
/// default tick text (return "" to hide a tick label); `x_ticks` caps their number.
pub fn style_mesh<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    theme: &Theme,
    x_label: &str,
    y_label: &str,
    x_ticks: usize,
    x_fmt: Option<&dyn Fn(&f64) -> String>,
) -> Result<()> {
    let tick = theme.tick_font();
    let axis = theme.axis_label_font();
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(theme::GRID.stroke_width(theme.thin_line()))
        .axis_style(theme::AXIS.stroke_width(theme.thin_line()))
        .set_tick_mark_size(LabelAreaPosition::Left, theme.px(10.0))
        .set_tick_mark_size(LabelAreaPosition::Bottom, theme.px(10.0))
        .x_labels(x_ticks)
        .y_labels(7)
        .label_style(tick)
        .axis_desc_style(axis)
        .x_desc(x_label)
        .y_desc(y_label)
        .y_label_formatter(&fmt_tick);
    let default_x = fmt_tick;
    match x_fmt {
        Some(f) => mesh.x_label_formatter(f),
        None => mesh.x_label_formatter(&default_x),
    };
    mesh.draw().map_err(perr)
}

/// Tick text with no float noise ("0.3", not "0.30000000000000004").
pub fn fmt_tick(v: &f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    let s = format!("{r}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `(min, max)` of finite values padded by `pad` of the span; a span collapsed to a
/// point is widened so the axis is never degenerate.
pub fn padded_range(min: f64, max: f64, pad: f64) -> (f64, f64) {
    let (lo, hi) = widen(min, max);
    let span = hi - lo;
    (lo - pad * span, hi + pad * span)
}

/// Widens a zero-width range around its value.
pub fn widen(min: f64, max: f64) -> (f64, f64) {
    if max - min > 1e-12 * min.abs().max(max.abs()).max(1.0) {
        (min, max)
    } else {
        let half = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
        (min - half, max + half)
    }
}

/// Min and max of an iterator of finite values (`None` if empty).
pub fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((a, b)) => Some((a.min(v), b.max(v))),
    })
}

/// Legend entries for series labels in first-seen order, one colour per label.
pub fn label_colors<'a>(labels: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for l in labels {
        if !seen.iter().any(|s| s == l) {
            seen.push(l.to_string());
        }
    }
    seen
}

/// Index of `label` in `labels` (for its colour).
pub fn color_of(labels: &[String], label: &str) -> RGBColor {
    theme::series_color(labels.iter().position(|l| l == label).unwrap_or(0))
}
