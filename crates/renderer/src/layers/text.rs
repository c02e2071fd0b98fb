//! `kind = "text"`: a title, an artist or any string, rasterised on the CPU (crates/gpu's
//! `text`) into a coverage texture the shader tints, with a soft shadow. `{elapsed}`,
//! `{remaining}` and `{total}` become m:ss times, `{chapter}` the chapter's title; the bitmap is
//! re-rasterised only when the shown string changes.

use std::path::PathBuf;

use gpu::text::{TextRasterizer, TextStyle};
use gpu::{LayerImage, LayerKind, LayerSpec, TextParams};
use serde::Deserialize;

use super::picture::scale_rect;
use super::values::{LayerTable, Point, Scale, checked, layer_struct, plain};
use super::{Builder, Frame, LayerDef, Part, Slot, blend_of, linear};
use crate::RenderError;
use crate::expr::{Var, Vars};
use crate::job::Color;
use crate::job::chapters::{self, Chapter};

/// Horizontal text alignment (anchor and multi-line alignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextAlign {
    Left,
    #[default]
    Center,
    Right,
}

/// Vertical text anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextBaseline {
    Top,
    #[default]
    Middle,
    Bottom,
}

checked!(
    /// A font size in px at 1080p, 1..=1000 (a plain number: text is rasterised once).
    FontSize(f32) from f64 = "f64",
    |v| v.is_finite() && (1.0..=1000.0).contains(&v),
    |v| format!(
        "size must be a number of pixels between 1 and 1000, got {v} (to animate text, use \
         scale)"
    ),
);

/// Text, at most 4096 characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TextString(pub String);

impl TryFrom<String> for TextString {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.chars().count() > 4096 {
            return Err("text is longer than 4096 characters".into());
        }
        Ok(Self(s))
    }
}

plain!(TextAlign, TextBaseline, TextString);

layer_struct!(
    /// `kind = "text"`: a title, an artist or any string; `{elapsed}`, `{remaining}` and
    /// `{total}` are replaced by times (m:ss).
    TextLayer {
        text: TextString = TextString(String::new()),
        /// A TTF/OTF file; default: the embedded DejaVu Sans.
        font: Option<PathBuf> = None,
        /// Font size, px at 1080p (fixed; animate `scale` instead).
        size: FontSize = FontSize(64.0),
        color: Color = Color([0xff, 0xff, 0xff, 255]),
        /// Anchor point as fractions of the layer's rect (the frame by default).
        position: Point = Point::new(0.5, 0.1),
        align: TextAlign = TextAlign::Center,
        baseline: TextBaseline = TextBaseline::Middle,
        shadow: Option<Color> = None,
        /// Shadow offset [x, y], px at 1080p.
        shadow_offset: [f64; 2] = [3.0, 3.0],
        /// Shadow softness, px at 1080p.
        shadow_blur: f64 = 4.0,
        scale: Scale = Scale::from(1.0),
    }
);

impl LayerDef for TextLayer {
    const KIND: &'static str = "text";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.0, 0.0, 1.0, 1.0]);

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.font.iter_mut().collect()
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        let font = load_font(self.font.as_deref())?;
        let style = text_style(
            self.size.0 * b.px,
            self.align,
            self.shadow_offset,
            self.shadow_blur,
            b.px,
        );
        let padding = style.padding;
        let frame = b.frame();
        let shown = expand_text(&self.text.0, frame.vars, &b.chapters, frame.time);
        let mut part = TextPart {
            layer: self.clone(),
            font,
            shown: String::new(),
            style,
            size: (0, 0),
            padding,
            clock: ["{elapsed}", "{remaining}", "{chapter}"]
                .iter()
                .any(|k| self.text.0.contains(k)),
            chapters: b.chapters.clone(),
        };
        let bitmap = part.raster().render(&shown, &part.style);
        if !bitmap.missing.is_empty() {
            log::warn!(
                "text \"{}\": the font has no glyph for {:?}; they show as boxes (set font = \
                 \"path/to/font.ttf\" to a font that has them)",
                self.text.0.chars().take(40).collect::<String>(),
                bitmap.missing
            );
        }
        part.shown = shown;
        part.size = (bitmap.width, bitmap.height);
        let spec = LayerSpec {
            kind: part.params(&frame),
            blend: blend_of(self),
            image: Some(LayerImage::Coverage {
                width: bitmap.width,
                height: bitmap.height,
                pixels: bitmap.coverage,
            }),
            dynamic_alpha: true,
        };
        b.push(part, spec);
        Ok(())
    }
}

/// The job's font (None: the embedded DejaVu Sans), loaded once per layer.
pub(super) fn load_font(
    path: Option<&std::path::Path>,
) -> Result<Option<TextRasterizer>, RenderError> {
    Ok(match path {
        Some(path) => Some(TextRasterizer::from_file(path)?),
        None => None,
    })
}

/// The rasteriser of a layer's font (the embedded one when it has none).
pub(super) fn raster(font: &Option<TextRasterizer>) -> &TextRasterizer {
    font.as_ref().unwrap_or_else(|| TextRasterizer::embedded())
}

/// The layout of a text or captions layer: `size_px` glyphs aligned by `align`, with padding
/// for the shadow's reach (offset and blur, px at 1080p, scaled by `px`).
pub(super) fn text_style(
    size_px: f32,
    align: TextAlign,
    shadow_offset: [f64; 2],
    shadow_blur: f64,
    px: f32,
) -> TextStyle {
    let shadow_reach = shadow_offset[0].abs().max(shadow_offset[1].abs()) + 2.0 * shadow_blur;
    TextStyle {
        size_px,
        align: match align {
            TextAlign::Left => gpu::text::Align::Left,
            TextAlign::Center => gpu::text::Align::Center,
            TextAlign::Right => gpu::text::Align::Right,
        },
        padding: (shadow_reach as f32 * px).ceil() as u32 + 2,
        ..TextStyle::default()
    }
}

fn fmt_time(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `{elapsed}`, `{remaining}`, `{total}` replaced by m:ss times, `{chapter}` by the title of
/// the chapter playing at `time` (seconds of the audio; empty before the first).
fn expand_text(template: &str, vars: &Vars, chapters: &[Chapter], time: f64) -> String {
    if !template.contains('{') {
        return template.to_owned();
    }
    let total = f64::from(vars.get(Var::Duration));
    let elapsed = f64::from(vars.get(Var::Progress)) * total;
    let chapter = chapters::at(chapters, time).map_or("", |c| c.title.as_str());
    template
        .replace("{elapsed}", &fmt_time(elapsed))
        .replace("{remaining}", &fmt_time(total - elapsed))
        .replace("{total}", &fmt_time(total))
        .replace("{chapter}", chapter)
}

/// Text state: the font, the string last rasterised and its bitmap's size.
struct TextPart {
    layer: TextLayer,
    /// The job's font; None = the embedded DejaVu Sans.
    font: Option<TextRasterizer>,
    shown: String,
    style: TextStyle,
    /// Bitmap size and its padding, pixels.
    size: (u32, u32),
    padding: u32,
    /// The text shows a clock or the chapter (re-rasterised when the shown string changes).
    clock: bool,
    chapters: std::sync::Arc<Vec<Chapter>>,
}

impl std::fmt::Debug for TextPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextPart")
            .field("template", &self.layer.text.0)
            .field("shown", &self.shown)
            .field("own_font", &self.font.is_some())
            .finish()
    }
}

impl TextPart {
    fn raster(&self) -> &TextRasterizer {
        raster(&self.font)
    }

    fn params(&self, f: &Frame<'_>) -> LayerKind {
        let (l, vars, px) = (&self.layer, f.vars, f.px);
        let rect = f.rect(l);
        let (w, h) = (self.size.0 as f32, self.size.1 as f32);
        let pad = self.padding as f32;
        let anchor = l.position.at(vars, f.size);
        let anchor = [
            rect[0] + anchor[0] * rect[2] / f.size[0],
            rect[1] + anchor[1] * rect[3] / f.size[1],
        ];
        let x = match l.align {
            TextAlign::Left => anchor[0] - pad,
            TextAlign::Center => anchor[0] - 0.5 * w,
            TextAlign::Right => anchor[0] - w + pad,
        };
        let y = match l.baseline {
            TextBaseline::Top => anchor[1] - pad,
            TextBaseline::Middle => anchor[1] - 0.5 * h,
            TextBaseline::Bottom => anchor[1] - h + pad,
        };
        LayerKind::Text(TextParams {
            rect: scale_rect([x, y, w, h], l.scale.at(vars)),
            color: linear(l.color),
            shadow_color: l.shadow.map(linear).unwrap_or([0.0; 4]),
            shadow_offset: [
                l.shadow_offset[0] as f32 * px,
                l.shadow_offset[1] as f32 * px,
            ],
            opacity: l.opacity.at(vars),
            shadow_blur: l.shadow_blur as f32 * px,
        })
    }
}

impl Part for TextPart {
    fn is_dynamic(&self) -> bool {
        self.clock || self.layer.is_reactive()
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        if self.clock {
            let shown = expand_text(&self.layer.text.0, f.vars, &self.chapters, f.time);
            if shown != self.shown {
                let bitmap = self.raster().render(&shown, &self.style);
                slot.set_image(&LayerImage::Coverage {
                    width: bitmap.width,
                    height: bitmap.height,
                    pixels: bitmap.coverage,
                })?;
                self.shown = shown;
                self.size = (bitmap.width, bitmap.height);
            }
        }
        slot.set_params(&self.params(f))
    }
}
