//! The benchmark figure (`lexalign bench --suite`): two panels side by side.
//! Left: embedding throughput per model and thread count, lexalign's bar beside
//! its peer's (and llama.cpp's, for decoders), on a log axis (models differ ~30×)
//! with the ratios written above each cluster. Right: exact retrieval seconds against N, log-log, lexalign and the
//! peer's GEMM floor, with lexalign / peer written at each size.

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::{self, Theme};
use super::{check, Figure, Spec};
use crate::error::{Error, Result};

/// One cluster of the throughput panel: lexalign's and (when measured) the
/// peer's and llama.cpp's strings/s; `label` lines go under the cluster, `notes` above it.
#[derive(Debug, Clone)]
pub struct ThroughputGroup {
    pub label: String,
    pub lexalign: f64,
    pub peer: Option<f64>,
    pub llama_cpp: Option<f64>,
    pub notes: Vec<String>,
}

impl ThroughputGroup {
    /// The bars: (series, strings/s), lexalign first.
    fn bars(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        [Some(self.lexalign), self.peer, self.llama_cpp]
            .into_iter()
            .enumerate()
            .filter_map(|(j, v)| Some((j, v?)))
    }
}

/// Retrieval seconds at each N for one side (lexalign or the GEMM peer).
#[derive(Debug, Clone)]
pub struct TimingSeries {
    pub label: String,
    /// `(N, seconds)`.
    pub points: Vec<(f64, f64)>,
}

pub(super) struct Bench {
    title: String,
    caption: String,
    names: (String, String, String),
    groups: Vec<ThroughputGroup>,
    lexalign: TimingSeries,
    peer: Option<TimingSeries>,
    retrieval_x_label: String,
}

/// The two-panel benchmark figure. `names` are the legend's labels for lexalign,
/// the Python peers and llama.cpp (shown when a group has its bar); `retrieval_x_label` names the right panel's x axis (N and the
/// settings it was timed with); every value must be finite and positive (log axes).
pub fn bench_panels(
    title: &str,
    names: (&str, &str, &str),
    groups: Vec<ThroughputGroup>,
    lexalign: TimingSeries,
    peer: Option<TimingSeries>,
    retrieval_x_label: &str,
    caption: &str,
) -> Result<Figure> {
    check::non_empty(title, "the list of throughput groups", groups.len())?;
    check::non_empty(title, "the retrieval timings", lexalign.points.len())?;
    let positive = |what: &str, values: Vec<f64>| -> Result<()> {
        check::finite(title, what, values.iter().copied())?;
        match values.iter().find(|v| **v <= 0.0) {
            Some(v) => Err(Error::data(
                check::ctx(title),
                format!("{what}: {v} is not positive (the axes are logarithmic)"),
            )),
            None => Ok(()),
        }
    };
    for g in &groups {
        positive(&g.label, g.bars().map(|(_, v)| v).collect())?;
    }
    for s in std::iter::once(&lexalign).chain(peer.as_ref()) {
        positive(&s.label, s.points.iter().flat_map(|p| [p.0, p.1]).collect())?;
    }
    let spec = Bench {
        title: title.into(),
        caption: caption.into(),
        names: (names.0.into(), names.1.into(), names.2.into()),
        groups,
        lexalign,
        peer,
        retrieval_x_label: retrieval_x_label.into(),
    };
    // The throughput panel (60% of the width) gives each cluster room for its
    // two-line label and notes: wider with more than ~8 clusters.
    let width = (3000.0f64).max((230 * spec.groups.len() + 250) as f64 / 0.6) as u32;
    Figure::new(Spec::Bench(spec), (width, 1500))
}

/// A log axis range around `lo..hi` with `below`/`above` factors of room.
fn log_range(lo: f64, hi: f64, below: f64, above: f64) -> (f64, f64) {
    (lo / below, hi * above)
}

/// "43,837" for 43837.0.
fn thousands(v: f64) -> String {
    let s = format!("{}", v.round() as i64);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Ticks of a log axis: 1, 2 and 5 times powers of ten inside `lo..hi`.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = p * m;
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
        p *= 10.0;
    }
    out
}

impl Bench {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let llama = self.groups.iter().any(|g| g.llama_cpp.is_some());
        let legend = [&self.names.0, &self.names.1, &self.names.2]
            .into_iter()
            .take(if llama { 3 } else { 2 })
            .enumerate()
            .map(|(j, label)| LegendEntry {
                label: label.clone(),
                color: theme::series_color(j),
                mark: Mark::Solid,
            })
            .collect::<Vec<_>>();
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;
        let w = body.dim_in_pixel().0 as i32;
        let (left, right) = body.split_horizontally(w * 60 / 100);
        self.draw_throughput(&left, theme)?;
        self.draw_retrieval(&right, theme)
    }

    fn draw_throughput<DB: DrawingBackend>(&self, area: &Area<DB>, theme: &Theme) -> Result<()> {
        let values = self.groups.iter().flat_map(|g| g.bars().map(|(_, v)| v));
        let (lo, hi) = layout::min_max(values).unwrap_or((1.0, 10.0));
        let notes = self.groups.iter().map(|g| g.notes.len()).max().unwrap_or(0);
        // Room above the tallest bar for its notes: ~1.25× per line on the log axis.
        let (y0, y1) = log_range(lo, hi, 2.5, 1.3 * 1.25f64.powi(notes as i32 + 1));
        let n = self.groups.len();
        let font = theme.tick_font();
        let line_h = theme.px(36.0);
        let labels: Vec<Vec<String>> = self
            .groups
            .iter()
            .map(|g| g.label.lines().map(str::to_string).collect())
            .collect();
        let max_lines = labels.iter().map(Vec::len).max().unwrap_or(1) as i32;
        let x_area = theme.px(24.0) + max_lines * line_h + theme.px(16.0);
        let mut chart = ChartBuilder::on(area)
            .margin(theme.px(20.0))
            .margin_right(theme.px(30.0))
            .caption("Embedding throughput", theme.panel_title_font())
            .x_label_area_size(x_area)
            .y_label_area_size(theme.px(150.0))
            .build_cartesian_2d(
                0.0..n as f64,
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(perr)?;
        let fmt_y = |v: &f64| thousands(*v);
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(theme::GRID.stroke_width(theme.thin_line()))
            .axis_style(theme::AXIS.stroke_width(theme.thin_line()))
            .set_tick_mark_size(LabelAreaPosition::Left, theme.px(10.0))
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(30)
            .label_style(theme.tick_font())
            .axis_desc_style(theme.axis_label_font())
            .y_desc("strings per second (log scale)")
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&fmt_y)
            .draw()
            .map_err(perr)?;

        // Two bars per cluster, three where any cluster has llama.cpp's (same slots
        // everywhere, so a series sits at the same offset in every cluster).
        let slots = if self.groups.iter().any(|g| g.llama_cpp.is_some()) {
            3
        } else {
            2
        };
        let width = 0.76 / slots as f64;
        for (i, g) in self.groups.iter().enumerate() {
            for (j, v) in g.bars() {
                let c = theme::series_color(j);
                let x = i as f64 + 0.5 + (j as f64 - slots as f64 / 2.0) * width + 0.02;
                let rect = [(x, y0), (x + width - 0.04, v)];
                chart
                    .draw_series([
                        Rectangle::new(rect, c.mix(0.85).filled()),
                        Rectangle::new(rect, c.stroke_width(theme.pxu(1.5))),
                    ])
                    .map_err(perr)?;
                // The value inside the bar's top, so every bar reads without the axis.
                let style = theme
                    .annotation_font(24.0, theme::TEXT)
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{v:.0}"),
                        (x + (width - 0.04) / 2.0, v * 1.04),
                        style,
                    )))
                    .map_err(perr)?;
            }
            let top = g.bars().map(|(_, v)| v).fold(0.0, f64::max);
            let style = theme
                .annotation_font(25.0, theme::TEXT)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            for (k, note) in g.notes.iter().rev().enumerate() {
                let y = top * 1.22 * 1.25f64.powi(k as i32);
                chart
                    .draw_series(std::iter::once(Text::new(
                        note.clone(),
                        (i as f64 + 0.5, y),
                        style.clone(),
                    )))
                    .map_err(perr)?;
            }
        }
        let origin = area.get_base_pixel();
        for (i, lines) in labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, y0));
            let top = py - origin.1 + theme.px(18.0);
            layout::draw_lines_centered(area, lines, &font, px - origin.0, top, line_h)?;
        }
        Ok(())
    }

    fn draw_retrieval<DB: DrawingBackend>(&self, area: &Area<DB>, theme: &Theme) -> Result<()> {
        let all = || {
            std::iter::once(&self.lexalign)
                .chain(self.peer.as_ref())
                .flat_map(|s| s.points.iter())
        };
        let (x0, x1) = layout::min_max(all().map(|p| p.0)).unwrap_or((1.0, 10.0));
        let (s0, s1) = layout::min_max(all().map(|p| p.1)).unwrap_or((0.1, 1.0));
        let (x0, x1) = log_range(x0, x1, 1.5, 1.5);
        let (y0, y1) = log_range(s0, s1, 2.0, 2.5);
        let mut chart = ChartBuilder::on(area)
            .margin(theme.px(20.0))
            .margin_right(theme.px(40.0))
            .caption("Exact retrieval, both directions", theme.panel_title_font())
            .x_label_area_size(layout::x_area(theme))
            .y_label_area_size(theme.px(130.0))
            .build_cartesian_2d(
                // The sizes measured are the x ticks.
                (x0..x1)
                    .log_scale()
                    .with_key_points(self.lexalign.points.iter().map(|p| p.0).collect()),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(perr)?;
        let fmt_x = |v: &f64| thousands(*v);
        let fmt_y = |v: &f64| layout::fmt_tick(v);
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(theme::GRID.stroke_width(theme.thin_line()))
            .axis_style(theme::AXIS.stroke_width(theme.thin_line()))
            .set_tick_mark_size(LabelAreaPosition::Left, theme.px(10.0))
            .set_tick_mark_size(LabelAreaPosition::Bottom, theme.px(10.0))
            .x_labels(40)
            .y_labels(30)
            .label_style(theme.tick_font())
            .axis_desc_style(theme.axis_label_font())
            .x_desc(self.retrieval_x_label.as_str())
            .y_desc("seconds (log scale)")
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .draw()
            .map_err(perr)?;
        for (i, s) in std::iter::once(&self.lexalign)
            .chain(self.peer.as_ref())
            .enumerate()
        {
            let c = theme::series_color(i);
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    c.stroke_width(theme.line_width()),
                ))
                .map_err(perr)?;
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, theme.marker() + 2, c.filled())),
                )
                .map_err(perr)?;
        }
        // lexalign / peer at each N, above the higher point.
        if let Some(peer) = &self.peer {
            let style = theme
                .annotation_font(29.0, theme::TEXT)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            for &(n, ours) in &self.lexalign.points {
                let Some(&(_, theirs)) = peer.points.iter().find(|p| p.0 == n) else {
                    continue;
                };
                let label = format!("{:.2}× · {}", ours / theirs, fmt_seconds(ours));
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (n, ours.max(theirs) * 1.25),
                        style.clone(),
                    )))
                    .map_err(perr)?;
            }
        }
        Ok(())
    }
}

fn fmt_seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<ThroughputGroup> {
        vec![
            ThroughputGroup {
                label: "minilm\n1 thread".into(),
                lexalign: 160.0,
                peer: Some(110.0),
                llama_cpp: None,
                notes: vec!["1.45×".into()],
            },
            ThroughputGroup {
                label: "smollm2\n2 threads".into(),
                lexalign: 22.0,
                peer: Some(11.0),
                llama_cpp: Some(30.0),
                notes: vec!["0.73× llama.cpp".into()],
            },
        ]
    }

    #[test]
    fn draws_both_panels_at_the_paper_size() {
        let ours = TimingSeries {
            label: "lexalign".into(),
            points: vec![(5000.0, 0.13), (20000.0, 1.8), (43837.0, 8.4)],
        };
        let theirs = TimingSeries {
            label: "numpy".into(),
            points: vec![(5000.0, 0.09), (20000.0, 1.5), (43837.0, 7.7)],
        };
        let fig = bench_panels(
            "t",
            ("lexalign", "peer", "llama.cpp"),
            groups(),
            ours,
            Some(theirs),
            "N pairs (log scale; dim 384, 2 threads)",
            "2 cores · test",
        )
        .unwrap();
        assert_eq!(fig.size(), (3000, 1500));
        assert!(fig.svg().contains("1.45×"));
        // The note above the cluster and the legend's third entry.
        assert!(fig.svg().contains("0.73× llama.cpp"));
        assert!(fig.svg().matches("llama.cpp").count() >= 2);
        assert!(fig.svg().contains("43,837"));
        let png = fig.png(0.5).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // IHDR: width and height, big-endian, at bytes 16..24.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1500);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 750);
    }

    #[test]
    fn refuses_values_a_log_axis_cannot_show() {
        let mut g = groups();
        g[0].lexalign = 0.0;
        let ours = TimingSeries {
            label: "lexalign".into(),
            points: vec![(10.0, 0.1)],
        };
        let e = bench_panels("t", ("a", "b", "c"), g, ours, None, "N", "c").unwrap_err();
        assert!(e.to_string().contains("not positive"), "{e}");
        assert_eq!(thousands(43837.0), "43,837");
        assert_eq!(thousands(500.0), "500");
        assert_eq!(log_ticks(3.0, 60.0), vec![5.0, 10.0, 20.0, 50.0]);
    }
}
