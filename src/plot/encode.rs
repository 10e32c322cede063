//! Byte encodings for figures: RGB buffers to PNG (with the resolution recorded)
//! and base64 for inline notebook display.

use base64::Engine;

use crate::error::{Error, Result};

/// Encodes an RGB8 buffer as PNG, recording `dpi` in the pHYs chunk.
pub fn png(rgb: &[u8], width: u32, height: u32, dpi: f64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let ppm = (dpi / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: ppm,
            yppu: ppm,
            unit: png::Unit::Meter,
        }));
        let mut writer = enc
            .write_header()
            .map_err(|e| Error::Plot(format!("PNG encoding: {e}")))?;
        writer
            .write_image_data(rgb)
            .map_err(|e| Error::Plot(format!("PNG encoding: {e}")))?;
    }
    Ok(out)
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
