//! `kind = "captions"`: the cue of a transcript (SubRip, WebVTT or Whisper JSON: [`cues`]) shown
//! at its time, wrapped to the layer's width, at most `lines` lines at once (a longer cue turns
//! its pages as it is spoken), over an optional rounded box, fading in and out; where the file
//! has word times, the spoken word is highlighted (recoloured in place, or swept by an
//! underline).
//!
//! It needs no GPU kind of its own: the box and the underline are progress-bar layers (a
//! rounded track; a fill cut at the word's progress), the text and the highlight two text
//! layers. The highlight is the same text rasterised with only the spoken word inked
//! ([`gpu::text::TextRasterizer::render_ink`]), so it lies exactly over the word. Text is
//! rasterised only when the shown page or word changes; every frame sets parameters only.
//!
//! Timing is the audio's clock (`offset` shifts it), so a segment, a preview and a whole render
//! show the same caption on the same frame. The cue file is read and checked by the preflight;
//! a malformed file is a job error naming its line.

use std::path::PathBuf;
use std::sync::Arc;

use gpu::text::{TextRasterizer, TextStyle};
use gpu::{LayerImage, LayerKind, LayerSpec, ProgressParams, TextParams};
use serde::Deserialize;

use super::text::{FontSize, TextAlign, TextBaseline, load_font, raster, text_style};
use super::values::{Pixels, Scale, checked, layer_struct, plain};
use super::{Builder, Frame, LayerDef, Part, Slot, blend_of, linear};
use crate::RenderError;
use crate::job::{Color, JobError};

pub mod cues;

use cues::Cue;

/// How the spoken word is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Highlight {
    /// Drawn in `highlight_color`.
    #[default]
    Color,
    /// An underline in `highlight_color` that sweeps across the word as it is spoken.
    Underline,
    /// Drawn in `highlight_color` and enlarged by `highlight_scale` about its centre.
    Scale,
    /// Not marked.
    None,
}

checked!(
    /// Lines of a caption shown at once, 1..=10.
    LineCount(u32) from i64 = "i64",
    |v| (1..=10).contains(&v),
    |v| format!("lines must be between 1 and 10, got {v}"),
);
checked!(
    /// Seconds of fade in and out, 0..=5.
    FadeSeconds(f32) from f64 = "f64",
    |v| v.is_finite() && (0.0..=5.0).contains(&v),
    |v| format!("fade must be between 0 and 5 seconds, got {v}"),
);
checked!(
    /// Seconds added to every cue time, -86400..=86400.
    OffsetSeconds(f64) from f64 = "f64",
    |v| v.is_finite() && (-86_400.0..=86_400.0).contains(&v),
    |v| format!("offset must be a number of seconds between -86400 and 86400, got {v}"),
);

/// The cues as the preflight read them (not a job key).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadedCues(pub Option<Arc<Vec<Cue>>>);

plain!(Highlight, LoadedCues);

layer_struct!(
    /// `kind = "captions"`: a transcript's cues at their times, the spoken word highlighted.
    CaptionsLayer {
        /// The transcript: .srt, .vtt, or Whisper JSON (.json) with word times.
        file: PathBuf = PathBuf::new(),
        /// A TTF/OTF file; default: the embedded DejaVu Sans.
        font: Option<PathBuf> = None,
        /// Font size, px at 1080p.
        size: FontSize = FontSize(54.0),
        color: Color = Color([0xff, 0xff, 0xff, 255]),
        /// Lines shown at once; a longer cue is shown a page at a time.
        lines: LineCount = LineCount(2),
        align: TextAlign = TextAlign::Center,
        /// Where the text sits in the layer's rect: "top", "middle" or "bottom".
        valign: TextBaseline = TextBaseline::Bottom,
        shadow: Option<Color> = Some(Color([0, 0, 0, 0xb0])),
        /// Shadow offset [x, y], px at 1080p.
        shadow_offset: [f64; 2] = [2.0, 3.0],
        /// Shadow softness, px at 1080p.
        shadow_blur: f64 = 4.0,
        /// A box behind the text (none by default).
        box_color: Option<Color> = None,
        /// Space between the text and the box's edge, px at 1080p.
        box_padding: Pixels = Pixels::from(18.0),
        /// The box's corner radius, px at 1080p.
        box_radius: Pixels = Pixels::from(14.0),
        /// Seconds of fade in at a cue's start and out at its end.
        fade: FadeSeconds = FadeSeconds(0.15),
        /// How the spoken word is marked: "color", "underline", "scale" or "none".
        highlight: Highlight = Highlight::Color,
        highlight_color: Color = Color([0xff, 0xd8, 0x4a, 255]),
        /// With highlight = "scale": how much the spoken word grows.
        highlight_scale: Scale = Scale::from(1.15),
        /// Seconds added to every cue time (a transcript that runs early or late).
        offset: OffsetSeconds = OffsetSeconds(0.0),
        /// Not a job key: the cues, read and checked by the preflight.
        #[serde(skip)]
        cues: LoadedCues = LoadedCues(None),
    }
);

impl CaptionsLayer {
    fn read(&self) -> Result<Vec<Cue>, String> {
        let text = std::fs::read_to_string(&self.file).map_err(|e| e.to_string())?;
        cues::parse(&self.file, &text)
    }
}

impl LayerDef for CaptionsLayer {
    const KIND: &'static str = "captions";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.08, 0.7, 0.84, 0.24]);

    fn check(&self) -> Result<(), String> {
        if self.file.as_os_str().is_empty() {
            return Err(
                "a captions layer needs file = \"talk.srt\" (SubRip, WebVTT or Whisper JSON)"
                    .into(),
            );
        }
        Ok(())
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        let mut out = vec![&mut self.file];
        out.extend(self.font.iter_mut());
        out
    }

    fn preflight(&mut self, job: &str) -> Result<(), JobError> {
        let cues = self.read().map_err(|e| JobError::Parse {
            path: job.to_owned(),
            message: format!("captions layer: {}: {e}", self.file.display()),
        })?;
        self.cues = LoadedCues(Some(Arc::new(cues)));
        Ok(())
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        let cues = match &self.cues.0 {
            Some(c) => c.clone(),
            None => Arc::new(self.read().map_err(|e| RenderError::Asset {
                path: self.file.clone(),
                message: format!("cannot use it as captions: {e}"),
            })?),
        };
        let font = load_font(self.font.as_deref())?;
        let px = b.px;
        let frame = b.frame();
        let rect = frame.rect(self);
        let box_padding = self.box_padding.at(frame.vars) * px;
        let style = text_style(
            self.size.0 * px,
            self.align,
            self.shadow_offset,
            self.shadow_blur,
            px,
        );
        let mut part = Captions {
            layer: self.clone(),
            cues,
            font,
            style,
            wrap_width: (rect[2] - 2.0 * box_padding).max(1.0),
            layout: None,
            shown: None,
            bitmap: (1, 1),
            ink: None,
            box_at: None,
            highlight_at: None,
            underline_at: None,
        };
        let blank = LayerImage::Coverage {
            width: 1,
            height: 1,
            pixels: vec![0],
        };
        let mut specs: Vec<LayerSpec> = Vec::new();
        let spec = |kind, image| LayerSpec {
            kind,
            blend: blend_of(self),
            image,
            dynamic_alpha: true,
        };
        if self.box_color.is_some() {
            part.box_at = Some(specs.len());
            specs.push(spec(part.bar(&frame, [0.0; 4], None), None));
        }
        let text_at = specs.len();
        specs.push(spec(
            part.text(&frame, [0.0; 2], false),
            Some(blank.clone()),
        ));
        if matches!(self.highlight, Highlight::Color | Highlight::Scale) {
            part.highlight_at = Some(specs.len());
            specs.push(spec(part.text(&frame, [0.0; 2], true), Some(blank)));
        }
        if self.highlight == Highlight::Underline {
            part.underline_at = Some(specs.len());
            specs.push(spec(part.bar(&frame, [0.0; 4], Some(0.0)), None));
        }
        // The part updates every layer of the caption: it owns the first, the others ride along.
        let first = specs.remove(0);
        let text_offset = text_at;
        b.push(
            Owner {
                captions: part,
                text_offset,
            },
            first,
        );
        for spec in specs {
            b.push(Rider, spec);
        }
        Ok(())
    }
}

/// A GPU layer kept up to date by the part of an earlier layer (a caption's text, highlight and
/// underline follow its box or text).
#[derive(Debug)]
struct Rider;

impl Part for Rider {
    fn is_dynamic(&self) -> bool {
        false
    }

    fn update(&mut self, _: &Frame<'_>, _: &mut Slot<'_>) -> Result<(), RenderError> {
        Ok(())
    }
}

/// The caption's first GPU layer: updates all of them.
#[derive(Debug)]
struct Owner {
    captions: Captions,
    /// The text layer's index relative to the first.
    text_offset: usize,
}

impl Part for Owner {
    fn is_dynamic(&self) -> bool {
        true
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        self.captions.update(f, slot, self.text_offset)
    }
}

/// A token of a cue: a run of non-blank characters, by its characters in the cue's text.
#[derive(Debug, Clone)]
struct Token {
    chars: std::ops::Range<usize>,
    text: String,
}

/// A cue wrapped into lines of tokens.
#[derive(Debug)]
struct Layout {
    cue: usize,
    lines: Vec<Vec<Token>>,
}

/// What is on screen: the cue, its page, the page's text and where each token lies in it.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    cue: usize,
    page: usize,
    /// The highlighted word (index into the cue's words), when one is spoken.
    word: Option<usize>,
}

struct Captions {
    layer: CaptionsLayer,
    cues: Arc<Vec<Cue>>,
    font: Option<TextRasterizer>,
    style: TextStyle,
    /// Pixels a line may take.
    wrap_width: f32,
    layout: Option<Layout>,
    shown: Option<Shown>,
    /// The current text bitmap's size.
    bitmap: (u32, u32),
    /// Where the highlighted word lies in the bitmap: [left, right, baseline].
    ink: Option<[f32; 3]>,
    box_at: Option<usize>,
    highlight_at: Option<usize>,
    underline_at: Option<usize>,
}

impl std::fmt::Debug for Captions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captions")
            .field("file", &self.layer.file)
            .field("cues", &self.cues.len())
            .field("shown", &self.shown)
            .finish()
    }
}

impl Captions {
    fn raster(&self) -> &TextRasterizer {
        raster(&self.font)
    }

    /// The cue shown at `t` (seconds on the transcript's clock): the latest started that has
    /// not ended.
    fn cue_at(&self, t: f64) -> Option<usize> {
        let started = self.cues.partition_point(|c| c.start <= t);
        (0..started).rev().take(8).find(|&i| t < self.cues[i].end)
    }

    /// Wraps cue `index` into lines no wider than the wrap width (a word wider than that gets a
    /// line of its own); the cue's own line breaks are kept.
    fn wrap(&self, index: usize) -> Layout {
        let text: Vec<char> = self.cues[index].text.chars().collect();
        let mut lines: Vec<Vec<Token>> = Vec::new();
        let mut line: Vec<Token> = Vec::new();
        let mut i = 0;
        while i < text.len() {
            if text[i] == '\n' {
                lines.push(std::mem::take(&mut line));
                i += 1;
                continue;
            }
            if text[i].is_whitespace() {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && !text[i].is_whitespace() {
                i += 1;
            }
            let token = Token {
                chars: start..i,
                text: text[start..i].iter().collect(),
            };
            if !line.is_empty() {
                let candidate = join(&line) + " " + &token.text;
                if self.raster().line_width(&candidate, &self.style) > self.wrap_width {
                    lines.push(std::mem::take(&mut line));
                }
            }
            line.push(token);
        }
        lines.push(line);
        lines.retain(|l| !l.is_empty());
        Layout { cue: index, lines }
    }

    /// What to show at `t`: the cue, its page and the spoken word.
    fn choose(&mut self, t: f64) -> Option<Shown> {
        let cue = self.cue_at(t)?;
        if self.layout.as_ref().is_none_or(|l| l.cue != cue) {
            self.layout = Some(self.wrap(cue));
        }
        let layout = self.layout.as_ref()?;
        let per_page = self.layer.lines.0 as usize;
        let pages = layout.lines.len().div_ceil(per_page).max(1);
        let c = &self.cues[cue];
        let word = c.words.iter().rposition(|w| w.start <= t);
        let page = match word {
            Some(w) => {
                let first = c.words[w].chars.start;
                let line = layout
                    .lines
                    .iter()
                    .position(|l| l.last().is_some_and(|tok| tok.chars.end > first))
                    .unwrap_or(0);
                line / per_page
            }
            None if c.words.is_empty() => {
                let share = (t - c.start) / (c.end - c.start).max(1e-6);
                ((share * pages as f64) as usize).min(pages - 1)
            }
            None => 0,
        };
        Some(Shown { cue, page, word })
    }

    /// The page's text, and the characters of word `word` in it.
    fn page_text(&self, shown: &Shown) -> (String, Option<std::ops::Range<usize>>) {
        let Some(layout) = &self.layout else {
            return (String::new(), None);
        };
        let per_page = self.layer.lines.0 as usize;
        let word = shown.word.map(|w| &self.cues[shown.cue].words[w].chars);
        let mut text = String::new();
        let mut at = 0;
        let mut ink: Option<std::ops::Range<usize>> = None;
        for (n, line) in layout
            .lines
            .iter()
            .skip(shown.page * per_page)
            .take(per_page)
            .enumerate()
        {
            if n > 0 {
                text.push('\n');
                at += 1;
            }
            for (k, token) in line.iter().enumerate() {
                if k > 0 {
                    text.push(' ');
                    at += 1;
                }
                let len = token.text.chars().count();
                if let Some(w) = word
                    && token.chars.start < w.end
                    && w.start < token.chars.end
                {
                    let r = at..at + len;
                    ink = Some(match ink {
                        Some(i) => i.start.min(r.start)..i.end.max(r.end),
                        None => r,
                    });
                }
                text.push_str(&token.text);
                at += len;
            }
        }
        (text, ink)
    }

    /// The text block's top-left corner in pixels for a bitmap of the current size.
    fn block_origin(&self, f: &Frame<'_>) -> [f32; 2] {
        let rect = f.rect(&self.layer);
        let pad = self.style.padding as f32;
        let box_pad = self.layer.box_padding.at(f.vars) * f.px;
        let (w, h) = (
            self.bitmap.0 as f32 - 2.0 * pad,
            self.bitmap.1 as f32 - 2.0 * pad,
        );
        let x = match self.layer.align {
            TextAlign::Left => rect[0] + box_pad,
            TextAlign::Center => rect[0] + 0.5 * (rect[2] - w),
            TextAlign::Right => rect[0] + rect[2] - box_pad - w,
        };
        let y = match self.layer.valign {
            TextBaseline::Top => rect[1] + box_pad,
            TextBaseline::Middle => rect[1] + 0.5 * (rect[3] - h),
            TextBaseline::Bottom => rect[1] + rect[3] - box_pad - h,
        };
        [x, y]
    }

    /// A text layer's parameters (`highlight`: the spoken word's layer).
    fn text(&self, f: &Frame<'_>, origin: [f32; 2], highlight: bool) -> LayerKind {
        let l = &self.layer;
        let pad = self.style.padding as f32;
        let color = linear(if highlight {
            l.highlight_color
        } else {
            l.color
        });
        let shadow = l.shadow.map(linear).unwrap_or([0.0; 4]);
        let mut rect = [
            origin[0] - pad,
            origin[1] - pad,
            self.bitmap.0 as f32,
            self.bitmap.1 as f32,
        ];
        // The spoken word enlarged about its centre: the whole bitmap (only the word is inked
        // in it) scaled about that point.
        if let (true, Highlight::Scale, Some([left, right, baseline])) =
            (highlight, l.highlight, self.ink)
        {
            let s = l.highlight_scale.at(f.vars);
            let centre = [
                rect[0] + 0.5 * (left + right),
                rect[1] + baseline - 0.35 * self.style.size_px,
            ];
            rect = [
                centre[0] + (rect[0] - centre[0]) * s,
                centre[1] + (rect[1] - centre[1]) * s,
                rect[2] * s,
                rect[3] * s,
            ];
        }
        LayerKind::Text(TextParams {
            rect,
            color,
            shadow_color: shadow,
            shadow_offset: [
                l.shadow_offset[0] as f32 * f.px,
                l.shadow_offset[1] as f32 * f.px,
            ],
            opacity: 0.0,
            shadow_blur: l.shadow_blur as f32 * f.px,
        })
    }

    /// A progress-bar layer's parameters: the box (`fill` None) or the underline (`fill`
    /// the swept fraction), at `rect`.
    fn bar(&self, f: &Frame<'_>, rect: [f32; 4], fill: Option<f32>) -> LayerKind {
        let l = &self.layer;
        let (track, fill_color, value, radius) = match fill {
            None => (
                l.box_color.map(linear).unwrap_or([0.0; 4]),
                [0.0; 4],
                0.0,
                l.box_radius.at(f.vars) * f.px,
            ),
            Some(v) => ([0.0; 4], linear(l.highlight_color), v, 0.5 * rect[3]),
        };
        LayerKind::Progress(ProgressParams {
            rect,
            track,
            fill: fill_color,
            value,
            radius,
            opacity: 0.0,
            _pad: 0.0,
        })
    }

    fn update(
        &mut self,
        f: &Frame<'_>,
        slot: &mut Slot<'_>,
        text_offset: usize,
    ) -> Result<(), RenderError> {
        let first = slot.index;
        let t = f.time - self.layer.offset.0;
        let shown = self.choose(t);
        if shown != self.shown {
            let previous = self.shown.take();
            if let Some(s) = &shown {
                let (text, ink) = self.page_text(s);
                let same_page = previous
                    .as_ref()
                    .is_some_and(|p| p.cue == s.cue && p.page == s.page);
                let same_ink = same_page && previous.as_ref().is_some_and(|p| p.word == s.word);
                // The base text: the whole page, or the page without its recoloured word.
                let recolour = self.highlight_at.is_some();
                if !same_page || (recolour && !same_ink) {
                    let bitmap = match (&ink, recolour) {
                        (Some(range), true) => {
                            self.raster()
                                .render_except(&text, &self.style, range.clone())
                        }
                        _ => self.raster().render(&text, &self.style),
                    };
                    self.bitmap = (bitmap.width, bitmap.height);
                    slot.index = first + text_offset;
                    slot.set_image(&LayerImage::Coverage {
                        width: bitmap.width,
                        height: bitmap.height,
                        pixels: bitmap.coverage,
                    })?;
                }
                self.ink = None;
                if let Some(range) = ink {
                    let (bitmap, ink_box) = self.raster().render_ink(&text, &self.style, range);
                    self.ink = ink_box;
                    if let Some(at) = self.highlight_at {
                        slot.index = first + at;
                        slot.set_image(&LayerImage::Coverage {
                            width: bitmap.width,
                            height: bitmap.height,
                            pixels: bitmap.coverage,
                        })?;
                    }
                }
            }
            self.shown = shown.clone();
        }
        // Parameters, every frame (placement and opacity may react; the sweep moves).
        let opacity = match &shown {
            None => 0.0,
            Some(s) => {
                let c = &self.cues[s.cue];
                let fade = f64::from(self.layer.fade.0);
                let edge = if fade > 0.0 {
                    ((t - c.start) / fade)
                        .min((c.end - t) / fade)
                        .clamp(0.0, 1.0)
                } else {
                    1.0
                };
                edge as f32 * self.layer.opacity.at(f.vars)
            }
        };
        let origin = self.block_origin(f);
        let pad = self.style.padding as f32;
        let set = |slot: &mut Slot<'_>, at: usize, mut kind: LayerKind, alpha: f32| {
            match &mut kind {
                LayerKind::Text(p) => p.opacity = alpha,
                LayerKind::Progress(p) => p.opacity = alpha,
                _ => {}
            }
            slot.index = first + at;
            slot.set_params(&kind)
        };
        if let Some(at) = self.box_at {
            let bp = self.layer.box_padding.at(f.vars) * f.px;
            let (w, h) = (
                self.bitmap.0 as f32 - 2.0 * pad,
                self.bitmap.1 as f32 - 2.0 * pad,
            );
            let r = [origin[0] - bp, origin[1] - bp, w + 2.0 * bp, h + 2.0 * bp];
            set(slot, at, self.bar(f, r, None), opacity)?;
        }
        set(slot, text_offset, self.text(f, origin, false), opacity)?;
        let spoken = shown.as_ref().and_then(|s| s.word.map(|w| (s.cue, w)));
        let word_alpha = if self.ink.is_some() { opacity } else { 0.0 };
        if let Some(at) = self.highlight_at {
            set(slot, at, self.text(f, origin, true), word_alpha)?;
        }
        if let Some(at) = self.underline_at {
            let (rect, value) = match (self.ink, spoken) {
                (Some([left, right, baseline]), Some((cue, w))) => {
                    let word = &self.cues[cue].words[w];
                    let size = self.style.size_px;
                    let thick = (0.07 * size).max(2.0);
                    let x = origin[0] - pad + left;
                    let y = origin[1] - pad + baseline + 0.12 * size;
                    let value = (t - word.start) / (word.end - word.start).max(1e-3);
                    ([x, y, right - left, thick], value.clamp(0.0, 1.0) as f32)
                }
                _ => ([0.0; 4], 0.0),
            };
            set(slot, at, self.bar(f, rect, Some(value)), word_alpha)?;
        }
        slot.index = first;
        Ok(())
    }
}

/// Tokens joined by single spaces.
fn join(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
