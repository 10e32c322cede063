//! Scatter with a text label beside every point, coloured by group: for a handful
//! to a few dozen points, e.g. a PCA of chosen terms and their identifiers.
//!
//! Labels are placed greedily in pixel space after the axes are laid out, so that
//! they overlap neither each other nor the points where there is room; a label
//! moved away from its point gets a thin leader line. Placement distances are
//! multiples of one unit that scales with the label font, so the paper PNG, the
//! SVG and the half-size preview look alike.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{self, perr, Area, LegendEntry, Mark};
use super::theme::Theme;
use super::{check, Figure, Spec};
use crate::error::Result;

/// Points with one label and one group each; a group is a colour and a legend entry
/// (first-seen order).
#[derive(Debug, Clone)]
pub struct LabelledPoints {
    pub points: Vec<(f64, f64)>,
    pub labels: Vec<String>,
    pub groups: Vec<String>,
    pub x_label: String,
    pub y_label: String,
}

pub(super) struct Labelled {
    title: String,
    caption: String,
    data: LabelledPoints,
    group_names: Vec<String>,
}

/// A labelled scatter (one panel, paper size).
///
/// ```
/// use lexalign::plot::{labelled_scatter, LabelledPoints};
/// let data = LabelledPoints {
///     points: vec![(0.0, 1.0), (1.0, 0.0)],
///     labels: vec!["Seizure".into(), "HP:0001250".into()],
///     groups: vec!["term".into(), "id".into()],
///     x_label: "PC1".into(),
///     y_label: "PC2".into(),
/// };
/// let fig = labelled_scatter("PCA", data, "example data")?;
/// assert!(fig.svg().contains("HP:0001250"));
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn labelled_scatter(title: &str, data: LabelledPoints, caption: &str) -> Result<Figure> {
    let n = data.points.len();
    check::non_empty(title, "the list of points", n)?;
    check::same_len(title, "labels", data.labels.len(), n, "points")?;
    check::same_len(title, "groups", data.groups.len(), n, "points")?;
    check::finite(title, "x", data.points.iter().map(|p| p.0))?;
    check::finite(title, "y", data.points.iter().map(|p| p.1))?;
    let group_names = layout::label_colors(data.groups.iter().map(|g| g.as_str()));
    let spec = Labelled {
        title: title.into(),
        caption: caption.into(),
        data,
        group_names,
    };
    Figure::new(Spec::Labelled(spec), layout::grid_page(1))
}

/// Label font size at scale 1 (the theme's units).
const LABEL_FONT: f64 = 30.0;
/// Placement units per unit of label font size: the geometry below was tuned for
/// an 11-pixel font, where one unit is one pixel.
const UNIT_PER_FONT: f64 = 1.0 / 11.0;

impl Labelled {
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, theme: &Theme) -> Result<()> {
        let legend: Vec<LegendEntry> = self
            .group_names
            .iter()
            .map(|g| LegendEntry {
                label: g.clone(),
                color: layout::color_of(&self.group_names, g),
                mark: Mark::Dot,
            })
            .collect();
        let body = layout::frame(root, theme, &self.title, &legend, &self.caption)?;
        let d = &self.data;
        let (x0, x1) = layout::min_max(d.points.iter().map(|p| p.0)).unwrap_or((0.0, 1.0));
        let (y0, y1) = layout::min_max(d.points.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
        let mut chart = layout::chart(
            &body,
            theme,
            None,
            layout::padded_range(x0, x1, 0.08),
            layout::padded_range(y0, y1, 0.08),
            layout::x_area(theme),
            None,
        )?;
        layout::style_mesh(&mut chart, theme, &d.x_label, &d.y_label, 6, None)?;
        let dots: Vec<(f64, f64)> = d
            .points
            .iter()
            .map(|p| {
                let (x, y) = chart.backend_coord(p);
                (x as f64, y as f64)
            })
            .collect();
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let area = (
            xr.start as f64,
            yr.start as f64,
            xr.end as f64,
            yr.end as f64,
        );
        self.draw_labels(root, theme, &dots, area)
    }

    /// Places the labels, then draws leader lines, points and labels, in pixels.
    fn draw_labels<DB: DrawingBackend>(
        &self,
        root: &Area<DB>,
        theme: &Theme,
        dots: &[(f64, f64)],
        area: (f64, f64, f64, f64),
    ) -> Result<()> {
        let d = &self.data;
        let color = |i: usize| layout::color_of(&self.group_names, &d.groups[i]);
        let font = |i: usize| theme.annotation_font(LABEL_FONT, color(i));
        let widths = (0..dots.len())
            .map(|i| Ok(layout::text_size(root, &d.labels[i], &font(i))?.0 as f64))
            .collect::<Result<Vec<f64>>>()?;
        let unit = LABEL_FONT * theme.scale * UNIT_PER_FONT;
        let spots = place_labels(dots, &widths, area, unit);
        let at = |(x, y): (f64, f64)| (x.round() as i32, y.round() as i32);
        for (i, (&dot, spot)) in dots.iter().zip(&spots).enumerate() {
            if spot.leader {
                let line = color(i).mix(0.7).stroke_width(theme.thin_line());
                root.draw(&PathElement::new(
                    vec![at(dot), at(spot.nearest_edge(dot))],
                    line,
                ))
                .map_err(perr)?;
            }
        }
        for (i, &dot) in dots.iter().enumerate() {
            root.draw(&Circle::new(at(dot), theme.marker() + 2, color(i).filled()))
                .map_err(perr)?;
        }
        for (i, spot) in spots.iter().enumerate() {
            let style = font(i).pos(Pos::new(HPos::Left, VPos::Center));
            let anchor = at((spot.x, spot.y + spot.h / 2.0));
            root.draw(&Text::new(d.labels[i].clone(), anchor, style))
                .map_err(perr)?;
        }
        Ok(())
    }
}

/// Height of a label's box, in placement units.
const LABEL_HEIGHT: f64 = 13.0;
/// Width of the box kept free around a point, in placement units.
const DOT_WIDTH: f64 = 10.0;

/// Where one label goes: its box (top-left corner, width, height, in pixels) and
/// whether it sits away from its point (drawn with a leader line).
#[derive(Debug, Clone, Copy, PartialEq)]
struct LabelSpot {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    leader: bool,
}

impl LabelSpot {
    fn overlap(&self, o: &LabelSpot) -> f64 {
        let dx = (self.x + self.w).min(o.x + o.w) - self.x.max(o.x);
        let dy = (self.y + self.h).min(o.y + o.h) - self.y.max(o.y);
        dx.max(0.0) * dy.max(0.0)
    }

    /// Overlap with the box kept free around a point (as high as a label).
    fn covers(&self, (px, py): (f64, f64), unit: f64) -> f64 {
        let w = DOT_WIDTH * unit;
        let dot = LabelSpot {
            x: px - w / 2.0,
            y: py - self.h / 2.0,
            w,
            h: self.h,
            leader: false,
        };
        self.overlap(&dot)
    }

    /// How far the box reaches outside `area` (left, top, right, bottom).
    fn outside(&self, (al, at, ar, ab): (f64, f64, f64, f64)) -> f64 {
        (al - self.x).max(0.0)
            + (self.x + self.w - ar).max(0.0)
            + (at - self.y).max(0.0)
            + (self.y + self.h - ab).max(0.0)
    }

    /// The point of the box nearest to `(px, py)`: where a leader line from it ends.
    fn nearest_edge(&self, (px, py): (f64, f64)) -> (f64, f64) {
        (
            px.clamp(self.x, self.x + self.w),
            py.clamp(self.y, self.y + self.h),
        )
    }

    /// The leader line from this label's point `dot` to the box, if it has one.
    fn leader_line(&self, dot: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        self.leader.then(|| (dot, self.nearest_edge(dot)))
    }

    /// Length of the segment `a`–`b` inside the box (Liang–Barsky clipping).
    fn crossed_by(&self, (a, b): ((f64, f64), (f64, f64))) -> f64 {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, a.0 - self.x),
            (dx, self.x + self.w - a.0),
            (-dy, a.1 - self.y),
            (dy, self.y + self.h - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return 0.0;
                }
            } else if p < 0.0 {
                t0 = t0.max(q / p);
            } else {
                t1 = t1.min(q / p);
            }
        }
        (t1 - t0).max(0.0) * dx.hypot(dy)
    }
}

/// Candidate boxes for a label of width `w` at `(cx, cy)`, nearest first: eight
/// spots touching the point, then rings of sixteen farther out (leader lines).
fn candidates((cx, cy): (f64, f64), w: f64, unit: f64) -> Vec<LabelSpot> {
    let h = LABEL_HEIGHT * unit;
    let (gap, corner) = (7.0 * unit, 5.0 * unit);
    let near = [
        (cx + gap, cy - h / 2.0),           // right
        (cx - gap - w, cy - h / 2.0),       // left
        (cx - w / 2.0, cy - gap - h),       // above
        (cx - w / 2.0, cy + gap),           // below
        (cx + corner, cy - corner - h),     // upper right
        (cx + corner, cy + corner),         // lower right
        (cx - corner - w, cy - corner - h), // upper left
        (cx - corner - w, cy + corner),     // lower left
    ];
    let spot = |(x, y): (f64, f64), leader| LabelSpot { x, y, w, h, leader };
    let mut out: Vec<LabelSpot> = near.iter().map(|&p| spot(p, false)).collect();
    for r in [28.0, 42.0, 56.0, 72.0, 90.0] {
        for k in 0..16 {
            let a = std::f64::consts::PI * 2.0 * k as f64 / 16.0;
            let centre = (cx + r * unit * a.cos(), cy - r * unit * a.sin());
            out.push(spot((centre.0 - w / 2.0, centre.1 - h / 2.0), true));
        }
    }
    out
}

/// The labels placed so far, and the points and area a new label must keep to.
struct Placement<'a> {
    dots: &'a [(f64, f64)],
    area: (f64, f64, f64, f64),
    unit: f64,
    placed: Vec<LabelSpot>,
}

impl Placement<'_> {
    /// How badly `spot`, the label of point `i`, collides: overlap with placed labels
    /// and other points, leader lines crossing labels (length × label height), and
    /// any part outside the area (heavily). 0 means free.
    fn cost(&self, i: usize, spot: &LabelSpot) -> f64 {
        let dot = self.dots[i];
        let labels: f64 = self.placed.iter().map(|p| spot.overlap(p)).sum();
        let crossings: f64 = (self.placed.iter().zip(self.dots))
            .map(|(p, &pd)| {
                spot.leader_line(dot).map_or(0.0, |l| p.crossed_by(l))
                    + p.leader_line(pd).map_or(0.0, |l| spot.crossed_by(l))
            })
            .sum();
        let points: f64 = (self.dots.iter().enumerate())
            .filter(|&(j, _)| j != i)
            .map(|(_, &d)| spot.covers(d, self.unit))
            .sum();
        labels + crossings * spot.h + points + spot.outside(self.area) * 1000.0
    }
}

/// Greedy label placement: for each point (in input order), the first candidate box
/// with [`Placement::cost`] 0 (inside `area`, clear of the other points, the labels
/// placed so far and their leader lines, its own leader line crossing none of them);
/// when every candidate collides, the cheapest. Positions and widths are pixels,
/// `area` is (left, top, right, bottom), `unit` is pixels per placement unit.
fn place_labels(
    dots: &[(f64, f64)],
    widths: &[f64],
    area: (f64, f64, f64, f64),
    unit: f64,
) -> Vec<LabelSpot> {
    let mut p = Placement {
        dots,
        area,
        unit,
        placed: Vec::with_capacity(dots.len()),
    };
    for (i, (&dot, &w)) in dots.iter().zip(widths).enumerate() {
        let mut best: Option<(f64, LabelSpot)> = None;
        for spot in candidates(dot, w, unit) {
            let c = p.cost(i, &spot);
            if best.as_ref().is_none_or(|(b, _)| c < *b) {
                best = Some((c, spot));
            }
            if c == 0.0 {
                break;
            }
        }
        // `candidates` is never empty, so `best` is always set.
        if let Some((_, spot)) = best {
            p.placed.push(spot);
        }
    }
    p.placed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels inside the area, clear of each other and of the other points; with
    /// `leaders`, no leader line crosses a label either.
    fn assert_free(
        spots: &[LabelSpot],
        dots: &[(f64, f64)],
        area: (f64, f64, f64, f64),
        leaders: bool,
    ) {
        for (i, a) in spots.iter().enumerate() {
            assert_eq!(a.outside(area), 0.0, "{a:?} leaves the area");
            for (j, b) in spots.iter().enumerate().skip(i + 1) {
                assert_eq!(a.overlap(b), 0.0, "{a:?} overlaps {b:?}");
                let crossing = a.leader_line(dots[i]).map_or(0.0, |l| b.crossed_by(l))
                    + b.leader_line(dots[j]).map_or(0.0, |l| a.crossed_by(l));
                assert!(
                    !leaders || crossing == 0.0,
                    "leader crosses label {i} or {j}"
                );
            }
            for (j, &d) in dots.iter().enumerate() {
                if j != i {
                    assert_eq!(a.covers(d, 1.0), 0.0, "label {i} covers point {j}");
                }
            }
        }
    }

    #[test]
    fn labels_of_a_tight_cluster_do_not_overlap() {
        // Six points within 6 px of each other (identifiers that PCA puts together),
        // plus one far away: every label gets its own box inside the area.
        let dots = [
            (400.0, 300.0),
            (403.0, 302.0),
            (406.0, 299.0),
            (401.0, 305.0),
            (404.0, 296.0),
            (405.0, 303.0),
            (100.0, 100.0),
        ];
        let area = (50.0, 40.0, 700.0, 540.0);
        let spots = place_labels(&dots, &[80.0; 7], area, 1.0);
        // Labels around the cluster can fence in an inner point, so its leader line
        // may have to cross one.
        assert_free(&spots, &dots, area, false);
        // A lone point keeps its label right beside it, without a leader line.
        assert_eq!(
            spots[6],
            LabelSpot {
                x: 107.0,
                y: 100.0 - LABEL_HEIGHT / 2.0,
                w: 80.0,
                h: LABEL_HEIGHT,
                leader: false
            }
        );
    }

    #[test]
    fn leader_lines_and_labels_keep_clear_of_each_other() {
        let spot = |x, y, w, leader| LabelSpot {
            x,
            y,
            w,
            h: 13.0,
            leader,
        };
        let dots = [(100.0, 100.0), (300.0, 100.0)];
        let area = (0.0, 0.0, 800.0, 600.0);
        // Point 0's label sits between point 1 and the left side.
        let p = Placement {
            dots: &dots,
            area,
            unit: 1.0,
            placed: vec![spot(150.0, 93.5, 80.0, false)],
        };
        // Point 1's label far left: its leader line would run through that label.
        let crossing = p.cost(1, &spot(20.0, 93.5, 60.0, true));
        assert!((crossing - 80.0 * 13.0).abs() < 1e-9, "{crossing}");
        // Above it, the leader line is clear.
        assert_eq!(p.cost(1, &spot(270.0, 40.0, 60.0, true)), 0.0);
        // Point 0's label moved down-left, with a leader line from (100, 100) to
        // (80, 180): a label of point 1 on that line collides.
        let p = Placement {
            placed: vec![spot(20.0, 180.0, 60.0, true)],
            ..p
        };
        assert!(p.cost(1, &spot(60.0, 130.0, 60.0, false)) > 0.0);
        assert_eq!(p.cost(1, &spot(160.0, 130.0, 60.0, false)), 0.0);
    }

    #[test]
    fn placement_scales_with_the_unit() {
        let dots = [(400.0, 300.0), (403.0, 302.0), (100.0, 100.0)];
        let area = (50.0, 40.0, 700.0, 540.0);
        let one = place_labels(&dots, &[80.0; 3], area, 1.0);
        let scale = |(x, y): (f64, f64)| (x * 2.5, y * 2.5);
        let big_area = (125.0, 100.0, 1750.0, 1350.0);
        let big = place_labels(&dots.map(scale), &[200.0; 3], big_area, 2.5);
        for (a, b) in one.iter().zip(&big) {
            assert!((a.x * 2.5 - b.x).abs() < 1e-9 && (a.y * 2.5 - b.y).abs() < 1e-9);
            assert_eq!((a.h * 2.5, a.leader), (b.h, b.leader));
        }
    }

    #[test]
    fn labels_stay_inside_at_the_right_edge() {
        let area = (50.0, 40.0, 700.0, 540.0);
        let spots = place_labels(&[(695.0, 300.0)], &[120.0], area, 1.0);
        assert!(spots[0].x + spots[0].w <= 700.0, "{:?}", spots[0]);
    }

    #[test]
    fn leader_lines_end_on_the_box() {
        let s = LabelSpot {
            x: 10.0,
            y: 10.0,
            w: 50.0,
            h: 13.0,
            leader: true,
        };
        assert_eq!(s.nearest_edge((0.0, 0.0)), (10.0, 10.0));
        assert_eq!(s.nearest_edge((30.0, 40.0)), (30.0, 23.0));
        // A vertical line through the box crosses its height; one beside it, nothing.
        assert!((s.crossed_by(((20.0, 0.0), (20.0, 40.0))) - 13.0).abs() < 1e-9);
        assert_eq!(s.crossed_by(((70.0, 0.0), (70.0, 40.0))), 0.0);
        // Ending on the edge, as a label's own leader line does, is no crossing.
        assert_eq!(
            s.crossed_by(((30.0, 40.0), s.nearest_edge((30.0, 40.0)))),
            0.0
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let data = |points: Vec<(f64, f64)>, labels: usize| LabelledPoints {
            labels: (0..labels).map(|i| format!("p{i}")).collect(),
            groups: vec!["g".into(); points.len()],
            points,
            x_label: "x".into(),
            y_label: "y".into(),
        };
        let err = |d| labelled_scatter("t", d, "").unwrap_err().to_string();
        assert!(err(data(vec![], 0)).contains("empty"));
        let e = err(data(vec![(0.0, 0.0), (1.0, f64::NAN)], 2));
        assert!(e.contains("\"y\"") && e.contains("position 1"), "{e}");
        let e = err(data(vec![(0.0, 0.0)], 2));
        assert!(
            e.contains("labels has 2 values but there are 1 points"),
            "{e}"
        );
        assert!(labelled_scatter("t", data(vec![(0.0, 0.0)], 1), "").is_ok());
    }
}
