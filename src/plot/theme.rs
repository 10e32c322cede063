//! The shared look of every figure: embedded fonts, the Okabe–Ito palette, font
//! sizes and spacings (scaled with the output size) and the colour map for heatmaps.

use std::sync::Once;

use plotters::style::{register_font, FontStyle, RGBColor, TextStyle};
use plotters::style::{Color, IntoFont};

/// The one font family used in every figure (DejaVu Sans, embedded in the binary).
pub const FONT: &str = "sans-serif";

/// Okabe–Ito colours, ordered so the first few contrast best on white; yellow last.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

/// Colour of series `i`; cycles after eight series.
pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub const CAPTION: RGBColor = RGBColor(0x70, 0x70, 0x70);
pub const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
pub const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);
pub const LINK: RGBColor = RGBColor(0x90, 0x90, 0x90);

static FONTS: Once = Once::new();

/// Registers DejaVu Sans (regular, bold, italic) under [`FONT`]; idempotent.
pub fn register_fonts() {
    FONTS.call_once(|| {
        // The embedded fonts are valid TrueType files, so registration cannot fail;
        // if it ever did, drawing reports FontUnavailable as a plot error.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
        let _ = register_font(FONT, FontStyle::Italic, dejavu::sans::oblique());
        let _ = register_font(FONT, FontStyle::Oblique, dejavu::sans::oblique());
    });
}

/// Sizes in pixels at the reference resolution (300 dpi), multiplied by `scale`.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub scale: f64,
}

impl Theme {
    pub fn new(scale: f64) -> Self {
        Theme { scale }
    }
    /// A length in pixels at this scale (at least 1).
    pub fn px(&self, v: f64) -> i32 {
        ((v * self.scale).round() as i32).max(1)
    }
    pub fn pxu(&self, v: f64) -> u32 {
        self.px(v) as u32
    }
    fn font(&self, size: f64, bold: bool, color: RGBColor) -> TextStyle<'static> {
        let style = if bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        };
        (FONT, size * self.scale)
            .into_font()
            .style(style)
            .color(&color.to_rgba())
    }
    pub fn title_font(&self) -> TextStyle<'static> {
        self.font(50.0, true, TEXT)
    }
    pub fn panel_title_font(&self) -> TextStyle<'static> {
        self.font(40.0, true, TEXT)
    }
    pub fn axis_label_font(&self) -> TextStyle<'static> {
        self.font(38.0, false, TEXT)
    }
    pub fn tick_font(&self) -> TextStyle<'static> {
        self.font(32.0, false, TEXT)
    }
    pub fn legend_font(&self) -> TextStyle<'static> {
        self.font(34.0, false, TEXT)
    }
    pub fn annotation_font(&self, size: f64, color: RGBColor) -> TextStyle<'static> {
        self.font(size, false, color)
    }
    pub fn caption_font(&self, size: f64) -> TextStyle<'static> {
        self.font(size, false, CAPTION)
    }
    /// Caption font size at scale 1 before any shrinking.
    pub const CAPTION_SIZE: f64 = 27.0;
    /// Outer margin around the whole figure.
    pub fn margin(&self) -> i32 {
        self.px(36.0)
    }
    pub fn line_width(&self) -> u32 {
        self.pxu(4.0)
    }
    pub fn thin_line(&self) -> u32 {
        self.pxu(2.0)
    }
    pub fn marker(&self) -> i32 {
        self.px(8.0)
    }
}

/// Viridis (perceptually uniform, colour-blind safe) at 9 stops.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2c, 0x7a),
    (0x3b, 0x51, 0x8b),
    (0x2c, 0x71, 0x8e),
    (0x21, 0x90, 0x8d),
    (0x27, 0xad, 0x81),
    (0x5c, 0xc8, 0x63),
    (0xaa, 0xdc, 0x32),
    (0xfd, 0xe7, 0x25),
];

/// Viridis colour for `t` in [0, 1] (clamped).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Relative luminance in [0, 1], to pick black or white text on a cell.
pub fn luminance(c: RGBColor) -> f64 {
    (0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64) / 255.0
}
