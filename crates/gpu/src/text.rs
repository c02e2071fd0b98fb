//! Text layers on the CPU: a string is laid out and rasterised with [`fontdue`] into an 8-bit
//! coverage bitmap ([`TextBitmap`]) that the GPU samples as an `R8Unorm` texture. The text
//! shader draws the drop shadow (or glow) by sampling the same texture at an offset, which is why
//! [`TextStyle::padding`] leaves empty pixels on every side.
//!
//! Rasterising is done once per distinct string: a title once, a clock once a second. Nothing
//! here touches the GPU.
//!
//! Layout, in brief:
//! - lines split on `'\n'` (a trailing `'\r'` is dropped), each aligned by [`Align`] within the
//!   widest line's advance width;
//! - kerning from the font's `kern` table ([`fontdue::Font::horizontal_kern`]), plus
//!   [`TextStyle::letter_spacing`] between glyphs;
//! - the pen advances in fractional pixels and each glyph is placed at the pen rounded to whole
//!   pixels; overlapping glyphs are blended by the maximum of their coverage;
//! - the bitmap's height follows the font's line metrics (ascent, descent, line height), not the
//!   ink, so a clock's bitmap does not change size as its digits change; ink that reaches beyond
//!   the line box or the advance width (accents, overhangs) widens the bitmap so it is never cut.
//!
//! Characters the font has no glyph for are drawn as the font's `.notdef` box and reported in
//! [`TextBitmap::missing`], so a caller can warn once. Whitespace without a glyph (tabs) advances
//! like a space; other control characters are ignored.
//!
//! Limits, against absurd settings: [`TextStyle::size_px`] is clamped to `1..=1024`,
//! [`TextStyle::line_height`] to `0..=10`, [`TextStyle::letter_spacing`] to `-1024..=1024` (a
//! non-finite value takes the default), and each side of the bitmap to at most
//! [`MAX_BITMAP_SIDE`] pixels; what lies beyond is cut off (the top-left part is kept).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use fontdue::{Font, FontSettings};

use crate::GpuError;

/// DejaVu Sans, embedded so text works with no font installed (licence:
/// `assets/fonts/LICENSE-DejaVu.txt`).
static EMBEDDED_FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The largest width or height of a [`TextBitmap`], in pixels (at most 64 MiB of coverage).
pub const MAX_BITMAP_SIDE: u32 = 8192;

/// Smallest and largest glyph size accepted, in pixels per em.
const SIZE_RANGE: (f32, f32) = (1.0, 1024.0);

/// Horizontal alignment of the lines of a multi-line text within its bitmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Lines start at the left edge.
    #[default]
    Left,
    /// Lines are centred on the widest line.
    Center,
    /// Lines end at the right edge.
    Right,
}

impl Align {
    /// The share of the free space placed before a line.
    fn factor(self) -> f32 {
        match self {
            Align::Left => 0.0,
            Align::Center => 0.5,
            Align::Right => 1.0,
        }
    }
}

/// How a string is laid out and rasterised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    /// Glyph size in pixels per em; clamped to `1..=1024`. Default 48.
    pub size_px: f32,
    /// Alignment of the lines of multi-line text. Default [`Align::Left`].
    pub align: Align,
    /// Distance between baselines as a multiple of the font's line height (ascent - descent +
    /// line gap); clamped to `0..=10`. Default 1.2.
    pub line_height: f32,
    /// Empty pixels on every side of the text, room for a shadow or glow. Default 0.
    pub padding: u32,
    /// Extra pixels between consecutive glyphs of a line (negative tightens); clamped to
    /// `-1024..=1024`. Default 0.
    pub letter_spacing: f32,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            size_px: 48.0,
            align: Align::Left,
            line_height: 1.2,
            padding: 0,
            letter_spacing: 0.0,
        }
    }
}

/// A rasterised string: 8-bit coverage, row-major, ready to upload as an `R8Unorm` texture.
#[derive(Clone, PartialEq)]
pub struct TextBitmap {
    /// Width in pixels, `1..=`[`MAX_BITMAP_SIDE`].
    pub width: u32,
    /// Height in pixels, `1..=`[`MAX_BITMAP_SIDE`].
    pub height: u32,
    /// `width * height` coverage values, row-major from the top-left, 0 (empty) to 255 (ink).
    pub coverage: Vec<u8>,
    /// Characters the font has no glyph for (whitespace and control characters excluded), each
    /// once, in order of first appearance. They are drawn as the font's `.notdef` box.
    pub missing: Vec<char>,
    /// Pixels from the top of the bitmap to the first line's baseline (padding included). For
    /// empty text, the padding.
    pub baseline: f32,
}

impl fmt::Debug for TextBitmap {
    // The coverage would print millions of numbers; its length is enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextBitmap")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("coverage_len", &self.coverage.len())
            .field("missing", &self.missing)
            .field("baseline", &self.baseline)
            .finish()
    }
}

/// A parsed font that turns strings into [`TextBitmap`]s. Cheap to share: rendering takes
/// `&self`.
pub struct TextRasterizer {
    font: Font,
    /// Where the font came from, for messages.
    source: String,
}

impl fmt::Debug for TextRasterizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextRasterizer")
            .field("source", &self.source)
            .field("name", &self.font.name())
            .field("glyphs", &self.font.glyph_count())
            .finish()
    }
}

/// One glyph placed in line-box coordinates (x from the left of its line's advance box, y from
/// the top of the first line's box), whole pixels.
#[derive(Debug, Clone, Copy)]
struct Placed {
    index: u16,
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    /// The character it draws (index into the whole text, newlines counted).
    char_index: usize,
    /// The pen's span: where the glyph's advance starts and ends, and its line's baseline.
    pen: (f32, f32),
    baseline: i64,
}

/// One laid-out line before alignment.
#[derive(Debug, Default)]
struct Line {
    glyphs: Vec<Placed>,
    /// Advance width in pixels (what alignment uses).
    advance: f32,
}

impl TextRasterizer {
    /// The embedded DejaVu Sans, parsed on first use and shared afterwards.
    pub fn embedded() -> &'static TextRasterizer {
        static EMBEDDED: OnceLock<TextRasterizer> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            // The bytes are compiled in and `tests::embedded_font_parses` parses them, so this
            // cannot fail at run time; a failure would be a broken build, not bad input.
            #[allow(clippy::expect_used)]
            let font = Font::from_bytes(EMBEDDED_FONT, FontSettings::default())
                .expect("the embedded DejaVu Sans is a valid TrueType font");
            TextRasterizer {
                font,
                source: "embedded DejaVu Sans".to_owned(),
            }
        })
    }

    /// Loads a TrueType/OpenType font (`.ttf`, `.otf`, first face of a collection) from `path`.
    ///
    /// An unreadable or malformed file is a [`GpuError::Config`] naming the file; it never
    /// panics (a panic inside the font parser is caught and reported the same way).
    pub fn from_file(path: &Path) -> Result<TextRasterizer, GpuError> {
        let bytes = std::fs::read(path).map_err(|e| {
            GpuError::Config(format!(
                "cannot read font file {}: {e}. Check the path, or leave the font unset to use \
                 the embedded DejaVu Sans",
                path.display()
            ))
        })?;
        let parsed = std::panic::catch_unwind(move || {
            Font::from_bytes(bytes, FontSettings::default()).map_err(str::to_owned)
        });
        let font = match parsed {
            Ok(Ok(font)) => font,
            Ok(Err(why)) => return Err(bad_font(path, &why)),
            Err(_) => return Err(bad_font(path, "the font parser failed on it")),
        };
        if font.glyph_count() == 0 {
            return Err(bad_font(path, "it has no glyphs"));
        }
        Ok(TextRasterizer {
            font,
            source: path.display().to_string(),
        })
    }

    /// The parsed font.
    pub fn font(&self) -> &Font {
        &self.font
    }

    /// Lays out and rasterises `text` (lines split on `'\n'`) with `style`. See the module docs
    /// for the layout rules and limits. Empty text gives a blank bitmap of just the padding (at
    /// least 1x1).
    pub fn render(&self, text: &str, style: &TextStyle) -> TextBitmap {
        self.rasterize(text, style, None).0
    }

    /// Like [`Self::render`], but only the characters in `ink` (char indices into `text`,
    /// newlines counted) are drawn: the bitmap has the size and layout [`Self::render`] gives the
    /// whole text, so drawn over it, it recolours part of the text in place (a caption's spoken
    /// word). Also returns where the inked characters' advances lie, in the bitmap's pixels:
    /// `[left, right, baseline]` of their first line (None when `ink` reaches no character).
    pub fn render_ink(
        &self,
        text: &str,
        style: &TextStyle,
        ink: Range<usize>,
    ) -> (TextBitmap, Option<[f32; 3]>) {
        self.rasterize(text, style, Some(&|i| ink.contains(&i)))
    }

    /// [`Self::render`] without the characters in `except` (the complement of
    /// [`Self::render_ink`], same layout): the rest of a caption under its recoloured word, so
    /// the word's anti-aliased edges do not show the base colour through.
    pub fn render_except(&self, text: &str, style: &TextStyle, except: Range<usize>) -> TextBitmap {
        self.rasterize(text, style, Some(&|i| !except.contains(&i)))
            .0
    }

    /// The advance width of `line` (no newline inside) in pixels: what [`Self::render`] aligns
    /// lines by, and what wrapping text to a width measures.
    pub fn line_width(&self, line: &str, style: &TextStyle) -> f32 {
        let size = sanitize(style.size_px, 48.0, SIZE_RANGE.0, SIZE_RANGE.1);
        let spacing = sanitize(style.letter_spacing, 0.0, -1024.0, 1024.0);
        self.layout_line(line, size, spacing, 0, 0).advance
    }

    fn rasterize(
        &self,
        text: &str,
        style: &TextStyle,
        ink: Option<&dyn Fn(usize) -> bool>,
    ) -> (TextBitmap, Option<[f32; 3]>) {
        let size = sanitize(style.size_px, 48.0, SIZE_RANGE.0, SIZE_RANGE.1);
        let line_factor = sanitize(style.line_height, 1.2, 0.0, 10.0);
        let spacing = sanitize(style.letter_spacing, 0.0, -1024.0, 1024.0);
        let pad = i64::from(style.padding.min(MAX_BITMAP_SIDE));
        let missing = self.missing_chars(text);

        if text.is_empty() {
            let side = clamp_side(2 * pad);
            let bitmap = TextBitmap {
                width: side,
                height: side,
                coverage: vec![0; side as usize * side as usize],
                missing,
                baseline: pad as f32,
            };
            return (bitmap, None);
        }

        let (ascent, descent, line_size) = match self.font.horizontal_line_metrics(size) {
            Some(m) => (m.ascent, m.descent, m.new_line_size),
            None => (0.8 * size, -0.2 * size, size),
        };
        let line_step = line_size * line_factor;

        // Lay out each line from x = 0 with its baseline at ascent + i * line_step.
        let mut lines = Vec::new();
        let mut first_char = 0;
        for (i, raw) in text.split('\n').enumerate() {
            let count = raw.chars().count() + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let baseline = (ascent + i as f32 * line_step).round() as i64;
            lines.push(self.layout_line(raw, size, spacing, baseline, first_char));
            first_char += count;
        }

        // Align within the widest advance, then find the extent of boxes and ink together.
        let widest = lines.iter().map(|l| l.advance).fold(0.0_f32, f32::max);
        let box_height = ascent - descent + (lines.len() - 1) as f32 * line_step;
        let (mut left, mut right) = (0_i64, widest.ceil().max(0.0) as i64);
        let (mut top, mut bottom) = (0_i64, box_height.ceil().max(0.0) as i64);
        let mut placed = Vec::new();
        for line in &lines {
            let shift = ((widest - line.advance) * style.align.factor()).round() as i64;
            for g in &line.glyphs {
                let g = Placed {
                    x: g.x + shift,
                    pen: (g.pen.0 + shift as f32, g.pen.1 + shift as f32),
                    ..*g
                };
                left = left.min(g.x);
                right = right.max(g.x + g.width);
                top = top.min(g.y);
                bottom = bottom.max(g.y + g.height);
                placed.push(g);
            }
        }

        let width = clamp_side(right - left + 2 * pad);
        let height = clamp_side(bottom - top + 2 * pad);
        let (ox, oy) = (pad - left, pad - top);
        let mut coverage = vec![0_u8; width as usize * height as usize];
        let mut cache: HashMap<u16, Vec<u8>> = HashMap::new();
        let mut ink_box: Option<[f32; 3]> = None;
        for g in &placed {
            if let Some(ink) = ink {
                if !ink(g.char_index) {
                    continue;
                }
                let (l, r) = (g.pen.0 + ox as f32, g.pen.1 + ox as f32);
                let base = (g.baseline + oy) as f32;
                ink_box = Some(match ink_box {
                    // Only the first line the ink reaches.
                    Some([l0, r0, b0]) if b0 == base => [l0.min(l), r0.max(r), b0],
                    Some(b) => b,
                    None => [l, r, base],
                });
            }
            let (x0, y0) = (g.x + ox, g.y + oy);
            let visible = g.width > 0
                && g.height > 0
                && x0 < i64::from(width)
                && y0 < i64::from(height)
                && x0 + g.width > 0
                && y0 + g.height > 0;
            if !visible {
                continue;
            }
            let glyph = cache
                .entry(g.index)
                .or_insert_with(|| self.font.rasterize_indexed(g.index, size).1);
            blit_max(&mut coverage, width, height, glyph, g, x0, y0);
        }

        let bitmap = TextBitmap {
            width,
            height,
            coverage,
            missing,
            baseline: (oy as f32 + ascent).min(height as f32),
        };
        (bitmap, ink_box)
    }

    /// Places the glyphs of one line (no newline inside) with the baseline at `baseline`.
    /// `first_char` is the index of the line's first character in the whole text.
    fn layout_line(
        &self,
        line: &str,
        size: f32,
        spacing: f32,
        baseline: i64,
        first_char: usize,
    ) -> Line {
        let space_advance = self.font.metrics(' ', size).advance_width;
        let mut out = Line::default();
        let mut pen = 0.0_f32;
        let mut prev: Option<u16> = None;
        let mut started = false;
        for (k, c) in line.chars().enumerate() {
            let has = self.font.has_glyph(c);
            if !has && c.is_control() && !c.is_whitespace() {
                continue;
            }
            if started {
                pen += spacing;
            }
            started = true;
            if !has && c.is_whitespace() {
                // A tab or an exotic space the font lacks: advance like a space, draw nothing.
                pen += space_advance;
                prev = None;
                continue;
            }
            let index = self.font.lookup_glyph_index(c);
            if let Some(p) = prev {
                pen += self
                    .font
                    .horizontal_kern_indexed(p, index, size)
                    .unwrap_or(0.0);
            }
            let m = self.font.metrics_indexed(index, size);
            let height = m.height as i64;
            out.glyphs.push(Placed {
                index,
                x: pen.round() as i64 + i64::from(m.xmin),
                y: baseline - (i64::from(m.ymin) + height),
                width: m.width as i64,
                height,
                char_index: first_char + k,
                pen: (pen, pen + m.advance_width),
                baseline,
            });
            pen += m.advance_width;
            prev = Some(index);
        }
        out.advance = pen.max(0.0);
        out
    }

    /// The characters of `text` without a glyph, whitespace and control characters excluded,
    /// each once in order.
    fn missing_chars(&self, text: &str) -> Vec<char> {
        let mut missing: Vec<char> = Vec::new();
        for c in text.chars() {
            if !c.is_whitespace()
                && !c.is_control()
                && !self.font.has_glyph(c)
                && !missing.contains(&c)
            {
                missing.push(c);
            }
        }
        missing
    }
}

/// The error for a font file that could be read but not used.
fn bad_font(path: &Path, why: &str) -> GpuError {
    GpuError::Config(format!(
        "font file {} is not a usable TrueType/OpenType font ({why}). Point the text layer at a \
         .ttf or .otf file, or leave the font unset to use the embedded DejaVu Sans",
        path.display()
    ))
}

/// `value` clamped to `lo..=hi`, or `default` when it is not finite.
fn sanitize(value: f32, default: f32, lo: f32, hi: f32) -> f32 {
    if value.is_finite() {
        value.clamp(lo, hi)
    } else {
        default
    }
}

/// A bitmap side from a computed extent: at least 1, at most [`MAX_BITMAP_SIDE`].
fn clamp_side(extent: i64) -> u32 {
    extent.clamp(1, i64::from(MAX_BITMAP_SIDE)) as u32
}

/// Writes `glyph` (its `g.width x g.height` coverage) at (`x0`, `y0`) into `dst`, keeping the
/// larger coverage where they overlap and clipping to the bitmap.
fn blit_max(dst: &mut [u8], width: u32, height: u32, glyph: &[u8], g: &Placed, x0: i64, y0: i64) {
    let (w, h) = (i64::from(width), i64::from(height));
    let gx0 = (-x0).max(0);
    let gx1 = g.width.min(w - x0);
    if gx1 <= gx0 {
        return;
    }
    for gy in (-y0).max(0)..g.height.min(h - y0) {
        let src_start = (gy * g.width + gx0) as usize;
        let src_end = (gy * g.width + gx1) as usize;
        let dst_start = ((y0 + gy) * w + x0 + gx0) as usize;
        let (Some(src), Some(dst_row)) = (
            glyph.get(src_start..src_end),
            dst.get_mut(dst_start..dst_start + (src_end - src_start)),
        ) else {
            continue;
        };
        for (d, s) in dst_row.iter_mut().zip(src) {
            *d = (*d).max(*s);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn style(size_px: f32) -> TextStyle {
        TextStyle {
            size_px,
            ..TextStyle::default()
        }
    }

    fn ink(b: &TextBitmap) -> u64 {
        b.coverage.iter().map(|&c| u64::from(c)).sum()
    }

    /// Coverage-weighted horizontal centroid of rows `y0..y1`.
    fn centroid_x(b: &TextBitmap, y0: u32, y1: u32) -> f64 {
        let (mut sum, mut weight) = (0.0, 0.0);
        for y in y0..y1 {
            for x in 0..b.width {
                let c = f64::from(b.coverage[(y * b.width + x) as usize]);
                sum += c * (f64::from(x) + 0.5);
                weight += c;
            }
        }
        assert!(weight > 0.0, "no ink in rows {y0}..{y1}");
        sum / weight
    }

    #[test]
    fn embedded_font_parses() {
        let r = TextRasterizer::embedded();
        assert!(r.font().glyph_count() > 1000);
        assert!(std::ptr::eq(r, TextRasterizer::embedded()), "parsed once");
    }

    #[test]
    fn ascii_renders_with_width_proportional_to_size() {
        let r = TextRasterizer::embedded();
        let small = r.render("Hello, world 0:42", &style(32.0));
        let big = r.render("Hello, world 0:42", &style(64.0));
        for b in [&small, &big] {
            assert_eq!(b.coverage.len(), (b.width * b.height) as usize);
            assert!(b.missing.is_empty());
            assert!(b.coverage.iter().filter(|&&c| c > 128).count() > 50);
        }
        let ratio = f64::from(big.width) / f64::from(small.width);
        assert!((1.8..=2.2).contains(&ratio), "width ratio {ratio}");
        let ratio = f64::from(big.height) / f64::from(small.height);
        assert!((1.8..=2.2).contains(&ratio), "height ratio {ratio}");
        assert!(small.baseline > 16.0 && small.baseline < small.height as f32);
    }

    #[test]
    fn non_ascii_has_no_missing_glyphs() {
        let r = TextRasterizer::embedded();
        let s = style(40.0);
        let uni = r.render("Café Ωμέγα Привет — ½", &s);
        assert!(uni.missing.is_empty(), "missing {:?}", uni.missing);
        assert!(ink(&uni) > 0);
        let ascii = r.render("Cafe Omega Privet - 1/2", &s);
        assert!(
            (uni.width, uni.height) != (ascii.width, ascii.height)
                || uni.coverage != ascii.coverage
        );
    }

    #[test]
    fn missing_glyphs_are_listed_once_in_order() {
        let r = TextRasterizer::embedded();
        let b = r.render("漢 a 🎵 漢\tb\r\n字", &style(24.0));
        assert_eq!(b.missing, vec!['漢', '🎵', '字']);
        // Drawn as .notdef boxes, not skipped.
        assert!(ink(&b) > 0);
    }

    #[test]
    fn multi_line_is_taller_and_centred() {
        let r = TextRasterizer::embedded();
        let one = r.render("WWWWWWWWWW", &style(30.0));
        let s = TextStyle {
            size_px: 30.0,
            align: Align::Center,
            ..TextStyle::default()
        };
        let two = r.render("WWWWWWWWWW\nil", &s);
        assert!(
            two.height > one.height + 20,
            "{} vs {}",
            two.height,
            one.height
        );
        assert!(two.width >= one.width);

        // Rows of the second line: below the first line's baseline plus its descent.
        let y0 = (two.baseline + 10.0) as u32;
        let cx = centroid_x(&two, y0, two.height);
        let centre = f64::from(two.width) / 2.0;
        assert!((cx - centre).abs() < 3.0, "centroid {cx}, centre {centre}");

        // Left alignment puts the same short line well left of the centre.
        let left = r.render("WWWWWWWWWW\nil", &style(30.0));
        let cx = centroid_x(&left, y0, left.height);
        assert!(cx < centre / 2.0, "left centroid {cx}");
        let right = r.render(
            "WWWWWWWWWW\nil",
            &TextStyle {
                align: Align::Right,
                ..s
            },
        );
        let cx = centroid_x(&right, y0, right.height);
        assert!(cx > centre * 1.5, "right centroid {cx}");
    }

    #[test]
    fn padding_adds_exactly_twice_on_each_axis() {
        let r = TextRasterizer::embedded();
        let plain = r.render("Padded Ag", &style(36.0));
        let padded = r.render(
            "Padded Ag",
            &TextStyle {
                padding: 7,
                ..style(36.0)
            },
        );
        assert_eq!(padded.width, plain.width + 14);
        assert_eq!(padded.height, plain.height + 14);
        assert_eq!(padded.baseline, plain.baseline + 7.0);
        assert_eq!(ink(&padded), ink(&plain));
        // The padding rows and columns are empty.
        let w = padded.width as usize;
        for (i, &c) in padded.coverage.iter().enumerate() {
            let (x, y) = (i % w, i / w);
            if x < 7 || y < 7 || x >= w - 7 || y >= padded.height as usize - 7 {
                assert_eq!(c, 0, "ink in the padding at ({x}, {y})");
            }
        }
    }

    #[test]
    fn empty_text_is_just_the_padding() {
        let r = TextRasterizer::embedded();
        let b = r.render("", &style(30.0));
        assert_eq!((b.width, b.height), (1, 1));
        assert_eq!(b.coverage, vec![0]);
        let b = r.render(
            "",
            &TextStyle {
                padding: 5,
                ..style(30.0)
            },
        );
        assert_eq!((b.width, b.height), (10, 10));
        assert_eq!(ink(&b), 0);
    }

    #[test]
    fn kerning_tightens_av() {
        let r = TextRasterizer::embedded();
        let size = 100.0;
        let kern = r.font().horizontal_kern('A', 'V', size);
        assert!(kern.is_some_and(|k| k < -1.0), "kern {kern:?}");
        let s = style(size);
        let av = r.render("AV", &s).width;
        let a = r.render("A", &s).width;
        let v = r.render("V", &s).width;
        assert!(av + 2 < a + v, "AV {av}, A {a} + V {v}");
        let advances =
            r.font().metrics('A', size).advance_width + r.font().metrics('V', size).advance_width;
        assert!((av as f32) < advances - 1.0, "AV {av}, advances {advances}");
    }

    #[test]
    fn letter_spacing_widens() {
        let r = TextRasterizer::embedded();
        let plain = r.render("abcd", &style(20.0));
        let spaced = r.render(
            "abcd",
            &TextStyle {
                letter_spacing: 5.0,
                ..style(20.0)
            },
        );
        let diff = spaced.width as i64 - plain.width as i64;
        assert!((14..=16).contains(&diff), "diff {diff}");
    }

    #[test]
    fn absurd_sizes_are_clamped() {
        let r = TextRasterizer::embedded();
        let huge = r.render(
            "WWWWWWWWWWWWWWWW",
            &TextStyle {
                size_px: 1.0e9,
                padding: u32::MAX,
                ..TextStyle::default()
            },
        );
        assert_eq!(huge.width, MAX_BITMAP_SIDE);
        assert!(huge.height <= MAX_BITMAP_SIDE);
        assert_eq!(huge.coverage.len(), (huge.width * huge.height) as usize);

        let odd = TextStyle {
            size_px: f32::NAN,
            line_height: f32::INFINITY,
            letter_spacing: f32::NAN,
            ..TextStyle::default()
        };
        let b = r.render("a\nb", &odd);
        assert!(ink(&b) > 0);
        let tiny = r.render("tiny", &style(-5.0));
        assert!(tiny.width >= 1 && tiny.height >= 1);
    }

    #[test]
    fn bad_font_file_is_an_error() {
        let dir = test_support::Scratch::new("gpu-text");
        let bad = dir.join("not-a-font.ttf");
        std::fs::write(&bad, b"this is not a font, just some bytes").unwrap();
        let err = TextRasterizer::from_file(&bad).unwrap_err();
        assert!(matches!(err, GpuError::Config(_)));
        assert!(err.to_string().contains("not-a-font.ttf"), "{err}");

        let truncated = dir.join("truncated.ttf");
        std::fs::write(&truncated, &EMBEDDED_FONT[..EMBEDDED_FONT.len() / 3]).unwrap();
        // Either rejected or usable; never a panic.
        if let Ok(r) = TextRasterizer::from_file(&truncated) {
            let _ = r.render("ok", &style(12.0));
        }

        let absent = dir.join("absent.ttf");
        let err = TextRasterizer::from_file(&absent).unwrap_err();
        assert!(err.to_string().contains("absent.ttf"), "{err}");

        let good = dir.join("good.ttf");
        std::fs::write(&good, EMBEDDED_FONT).unwrap();
        let r = TextRasterizer::from_file(&good).unwrap();
        assert!(ink(&r.render("ok", &style(12.0))) > 0);
    }

    #[test]
    fn inked_part_keeps_the_layout_and_stays_in_its_box() {
        let r = TextRasterizer::embedded();
        let st = TextStyle {
            size_px: 40.0,
            align: Align::Center,
            padding: 6,
            ..TextStyle::default()
        };
        let text = "Hello big\nwide world";
        let whole = r.render(text, &st);
        // "wide" is chars 10..14 (the newline is char 9).
        let (part, boxed) = r.render_ink(text, &st, 10..14);
        assert_eq!((part.width, part.height), (whole.width, whole.height));
        let [left, right, baseline] = boxed.unwrap();
        assert!(left >= 0.0 && right <= whole.width as f32 && left < right);
        // On the second line: below the first line's baseline.
        assert!(
            baseline > whole.baseline + 20.0,
            "{baseline} vs {}",
            whole.baseline
        );
        let mut inked = 0;
        for y in 0..part.height {
            for x in 0..part.width {
                let i = (y * part.width + x) as usize;
                // Never more ink than the whole text has there.
                assert!(part.coverage[i] <= whole.coverage[i]);
                if part.coverage[i] > 0 {
                    inked += 1;
                    assert!(
                        (x as f32) >= left - 2.0 && (x as f32) <= right + 2.0,
                        "x {x}"
                    );
                    assert!((y as f32) <= baseline + 12.0 && (y as f32) >= baseline - 40.0);
                }
            }
        }
        assert!(inked > 50, "the word is drawn");
        // Inking every character gives the whole text back.
        let (all, _) = r.render_ink(text, &st, 0..text.chars().count());
        assert_eq!(all.coverage, whole.coverage);
        // The rest of the text without the word: together they are the whole text.
        let rest = r.render_except(text, &st, 10..14);
        for ((w, p), q) in whole
            .coverage
            .iter()
            .zip(&part.coverage)
            .zip(&rest.coverage)
        {
            assert_eq!(*w, (*p).max(*q));
        }
        assert!(ink(&rest) < ink(&whole));
        // A space draws nothing; a range past the text reaches no character.
        let (space, _) = r.render_ink(text, &st, 5..6);
        assert_eq!(ink(&space), 0);
        let (past, none) = r.render_ink(text, &st, 100..200);
        assert_eq!(ink(&past), 0);
        assert!(none.is_none());
    }

    #[test]
    fn line_width_is_the_advance_render_aligns_by() {
        let r = TextRasterizer::embedded();
        let st = style(32.0);
        let short = r.line_width("ab", &st);
        let long = r.line_width("ab ab ab", &st);
        assert!(long > 3.0 * short, "{long} vs {short}");
        // A bitmap is at least as wide as its line's advance (ink may overhang).
        let b = r.render("ab ab ab", &st);
        assert!(b.width as f32 + 1.0 >= long);
    }
}
