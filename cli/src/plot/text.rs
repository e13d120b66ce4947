//! Text on the chart, in DejaVu Sans.
//!
//! The font comes inside the binary (the `dejavu` crate bundles its TrueType files) and
//! reaches plotters from bytes, through its `ab_glyph` feature, so the chart draws the
//! same on a bare machine: no font installed, no fontconfig or freetype linked, nothing
//! fetched.

use std::sync::OnceLock;

use anyhow::bail;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// The family name the font is registered under.
const FAMILY: &str = "dejavu-sans";

/// Where, as a share of the font size, the middle of a capital letter lies below the
/// point plotters' `ab_glyph` text is anchored at (`VPos::Top`): that backend puts the
/// baseline half a size below the anchor, and DejaVu's capitals are about 0.63 of a size
/// tall.
const CAP_MIDDLE: f64 = 0.185;

/// Registers the bundled font with plotters, once per process.
pub fn register() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if !registered {
        bail!("the bundled DejaVu Sans font could not be read");
    }
    Ok(())
}

/// How a line of text sits on its point: its left end, middle or right end, vertically
/// centred on the capitals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Draws `text` at `size` pixels, aligned by `align` on `(x, y)`, `y` being the middle of
/// its capital letters.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    (x, y): (i32, i32),
    size: u32,
    color: &RGBColor,
    align: Align,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let h_pos = match align {
        Align::Left => HPos::Left,
        Align::Center => HPos::Center,
        Align::Right => HPos::Right,
    };
    let style = TextStyle::from((FAMILY, f64::from(size)).into_font())
        .color(color)
        .pos(Pos::new(h_pos, VPos::Top));
    let top = y - (CAP_MIDDLE * f64::from(size)).round() as i32;
    area.draw_text(text, &style, (x, top))
}
