//! The scene: the job's layers turned into GPU layers, and what changes from frame to frame
//! (reactors, clocks, video frames, particle emission, the progress bar).
//!
//! A job layer may become more than one GPU layer: a background with an image is a colour plus
//! an image layer; a radial spectrum with cover art is the bars plus a circular image.

use std::path::{Path, PathBuf};

use gpu::text::{TextRasterizer, TextStyle};
use gpu::{
    AvatarParams, BackgroundParams, BarsParams, BloomParams, CustomParams, CustomShader,
    FrameRenderer, ImageParams, LayerImage, LayerKind, LayerSpec, ParticlesParams, ProgressParams,
    RadialParams, SpectrogramParams, TextParams, VignetteParams, WaveformParams,
};
use media::video::{VideoFrameOptions, VideoFrames, probe_video};

use crate::RenderError;
use crate::avatar::{Avatar, is_still};
use crate::expr::Vars;
use crate::job::{
    Align, Emitter, Fit, GradientAlong, Layer, Palette, Shape, TextAlign, TextBaseline, WaveStyle,
};

/// Which part of a job layer a GPU layer draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    /// The picture or video of a background, or the cover art of a radial spectrum.
    Picture,
}

/// Text state: the template, the string last rasterised and its bitmap's size.
struct TextState {
    /// The job's font; None = the embedded DejaVu Sans.
    font: Option<TextRasterizer>,
    template: String,
    shown: String,
    style: TextStyle,
    /// Bitmap size and its padding, pixels.
    size: (u32, u32),
    padding: u32,
    dynamic: bool,
}

impl TextState {
    fn raster(&self) -> &TextRasterizer {
        self.font
            .as_ref()
            .unwrap_or_else(|| TextRasterizer::embedded())
    }
}

impl std::fmt::Debug for TextState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextState")
            .field("template", &self.template)
            .field("shown", &self.shown)
            .field("own_font", &self.font.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct Item {
    layer: usize,
    role: Role,
    /// Parameters change from frame to frame (reactors, pulses, progress, particles).
    dynamic: bool,
    /// Size of the picture (images, video frames).
    picture: Option<(u32, u32)>,
    video: Option<VideoFrames>,
    text: Option<TextState>,
    /// Lip-sync state of an avatar layer.
    avatar: Option<Box<Avatar>>,
    /// Particle emission: ring cursor and the fractional carry of `rate`.
    cursor: u32,
    carry: f64,
}

/// The job's layers on the GPU and their per-frame state.
#[derive(Debug)]
pub struct Scene {
    layers: Vec<Layer>,
    items: Vec<Item>,
    size: [f32; 2],
    /// Output pixels per job pixel: job lengths are for a frame whose shorter side is 1080
    /// (1920x1080, 1080x1920, 1080x1080), so a job looks the same at any size or orientation.
    px: f32,
    fps: f64,
    frame_buffer: Vec<u8>,
}

fn asset_error(path: &Path, what: &str, reason: impl std::fmt::Display) -> RenderError {
    RenderError::Asset {
        path: path.to_owned(),
        message: format!("cannot use it as {what}: {reason}"),
    }
}

/// Loads a PNG or JPEG as sRGB RGBA8.
pub fn load_image(path: &Path) -> Result<LayerImage, RenderError> {
    let img = image::ImageReader::open(path)
        .map_err(|e| asset_error(path, "an image", e))?
        .with_guessed_format()
        .map_err(|e| asset_error(path, "an image", e))?
        .decode()
        .map_err(|e| {
            asset_error(
                path,
                "an image",
                format!("{e} (PNG and JPEG files are supported)"),
            )
        })?;
    let rgba = img.to_rgba8();
    let (width, height) = rgba.dimensions();
    if width > 16_384 || height > 16_384 {
        return Err(asset_error(
            path,
            "an image",
            format!("{width}x{height} is larger than 16384 pixels per side"),
        ));
    }
    Ok(LayerImage::Rgba {
        width,
        height,
        pixels: rgba.into_raw(),
    })
}

fn layer_blend(layer: &Layer) -> Option<crate::job::Blend> {
    match layer {
        Layer::Background(l) => l.blend,
        Layer::Image(l) => l.blend,
        Layer::Bars(l) => l.blend,
        Layer::Radial(l) => l.blend,
        Layer::Waveform(l) => l.blend,
        Layer::Spectrogram(l) => l.blend,
        Layer::Particles(l) => l.blend,
        Layer::Text(l) => l.blend,
        Layer::Progress(l) => l.blend,
        Layer::Vignette(l) => l.blend,
        Layer::Bloom(l) => l.blend,
        Layer::Custom(l) => l.blend,
        Layer::Avatar(l) => l.blend,
    }
}

fn hex_linear(c: crate::job::Color) -> [f32; 4] {
    c.to_gpu().to_linear()
}

fn fmt_time(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `{elapsed}`, `{remaining}`, `{total}` replaced by m:ss times.
fn expand_text(template: &str, vars: &Vars) -> String {
    use crate::expr::Var;
    if !template.contains('{') {
        return template.to_owned();
    }
    let total = f64::from(vars.get(Var::Duration));
    let elapsed = f64::from(vars.get(Var::Progress)) * total;
    template
        .replace("{elapsed}", &fmt_time(elapsed))
        .replace("{remaining}", &fmt_time(total - elapsed))
        .replace("{total}", &fmt_time(total))
}

/// The uv transform that fits a `picture` into a `rect` (pixels), zoomed in by `zoom` >= 1.
fn fit_uv(fit: Fit, picture: (u32, u32), rect: [f32; 4], zoom: f32) -> [f32; 4] {
    let ai = picture.0 as f32 / picture.1.max(1) as f32;
    let ar = rect[2].max(1e-3) / rect[3].max(1e-3);
    let (scale, offset) = match fit {
        Fit::Stretch => ([1.0, 1.0], [0.0, 0.0]),
        Fit::Cover if ai > ar => ([ar / ai, 1.0], [(1.0 - ar / ai) / 2.0, 0.0]),
        Fit::Cover => ([1.0, ai / ar], [0.0, (1.0 - ai / ar) / 2.0]),
        Fit::Contain if ai > ar => {
            let h = ar / ai;
            ([1.0, 1.0 / h], [0.0, -(1.0 - h) / 2.0 / h])
        }
        Fit::Contain => {
            let w = ai / ar;
            ([1.0 / w, 1.0], [-(1.0 - w) / 2.0 / w, 0.0])
        }
    };
    let z = zoom.max(1e-3);
    let centre = [offset[0] + 0.5 * scale[0], offset[1] + 0.5 * scale[1]];
    let s = [scale[0] / z, scale[1] / z];
    [centre[0] - 0.5 * s[0], centre[1] - 0.5 * s[1], s[0], s[1]]
}

/// Scales a rectangle about its centre.
fn scale_rect(r: [f32; 4], s: f32) -> [f32; 4] {
    let (cx, cy) = (r[0] + 0.5 * r[2], r[1] + 0.5 * r[3]);
    [cx - 0.5 * r[2] * s, cy - 0.5 * r[3] * s, r[2] * s, r[3] * s]
}

/// Size (even, >= 2) at which to decode a video shown in `rect` with `fit`.
fn video_size(info: (u32, u32), rect: [f32; 4], fit: Fit) -> (u32, u32) {
    let ai = info.0 as f32 / info.1.max(1) as f32;
    let (rw, rh) = (rect[2].max(2.0), rect[3].max(2.0));
    let (w, h) = match fit {
        Fit::Stretch => (rw, rh),
        Fit::Cover => {
            if ai > rw / rh {
                (rh * ai, rh)
            } else {
                (rw, rw / ai)
            }
        }
        Fit::Contain => {
            if ai > rw / rh {
                (rw, rw / ai)
            } else {
                (rh * ai, rh)
            }
        }
    };
    let even = |v: f32| ((v.min(8192.0) / 2.0).round().max(1.0) as u32) * 2;
    (even(w), even(h))
}

impl Scene {
    /// Builds the GPU layer list for a `width` x `height` frame at `fps`. Images, fonts and
    /// shaders are loaded here, so a missing file fails before any frame is drawn.
    pub fn new(
        layers: &[Layer],
        width: u32,
        height: u32,
        fps: f64,
        audio: &Path,
    ) -> Result<(Self, Vec<LayerSpec>), RenderError> {
        let mut scene = Self {
            layers: layers.to_vec(),
            items: Vec::new(),
            size: [width as f32, height as f32],
            px: width.min(height) as f32 / 1080.0,
            fps,
            frame_buffer: Vec::new(),
        };
        let vars = Vars::default();
        let mut specs = Vec::new();
        for (index, layer) in layers.iter().enumerate() {
            let mut roles = vec![Role::Main];
            let picture_path = match layer {
                Layer::Background(b) => b.image.clone().or(b.video.clone()),
                Layer::Image(i) => i.path.clone().or(i.video.clone()),
                Layer::Radial(r) => r.cover.clone(),
                Layer::Avatar(a) => Some(a.face.clone()),
                _ => None,
            };
            match layer {
                Layer::Background(_) if picture_path.is_some() => roles.push(Role::Picture),
                Layer::Radial(_) if picture_path.is_some() => roles.push(Role::Picture),
                _ => {}
            }
            for role in roles {
                let mut item = Item {
                    layer: index,
                    role,
                    dynamic: false,
                    picture: None,
                    video: None,
                    text: None,
                    avatar: None,
                    cursor: 0,
                    carry: 0.0,
                };
                let mut image = None;
                let is_picture =
                    role == Role::Picture || matches!(layer, Layer::Image(_) | Layer::Avatar(_));
                if is_picture && let Some(path) = &picture_path {
                    let is_video = match layer {
                        Layer::Background(b) => b.video.is_some(),
                        Layer::Image(i) => i.video.is_some(),
                        Layer::Avatar(a) => !is_still(&a.face),
                        _ => false,
                    };
                    if is_video {
                        let info = probe_video(path)?;
                        let fit = match layer {
                            Layer::Background(b) => b.fit,
                            Layer::Image(i) => i.fit,
                            Layer::Avatar(a) => a.fit,
                            _ => Fit::Cover,
                        };
                        let rect = scene.rect_of(layer, &vars);
                        let (w, h) = video_size((info.width, info.height), rect, fit);
                        image = Some(LayerImage::Rgba {
                            width: w,
                            height: h,
                            // Opaque black until the first frame arrives (decoded video frames
                            // are opaque; formats with alpha are drawn as if they were not).
                            pixels: [0, 0, 0, 255].repeat((w * h) as usize),
                        });
                        item.picture = Some((w, h));
                        // Spawned lazily at the first frame that shows it (or, for an avatar,
                        // tracks its face); that frame's time sets the start.
                        item.video = None;
                        item.dynamic = true;
                    } else {
                        let img = load_image(path)?;
                        item.picture = Some(img.size());
                        image = Some(img);
                    }
                }
                if let Layer::Avatar(a) = layer {
                    let mut avatar = Avatar::load(a, audio)?;
                    // A still's bytes, for the CPU backend (dropped if the GPU runs the nets).
                    if let Some(LayerImage::Rgba {
                        width,
                        height,
                        pixels,
                    }) = &image
                        && is_still(&a.face)
                    {
                        avatar.set_pixels(pixels, *width, *height);
                    }
                    item.avatar = Some(Box::new(avatar));
                    item.dynamic = true;
                }
                if let Layer::Text(t) = layer {
                    let font = match &t.font {
                        Some(path) => Some(TextRasterizer::from_file(path)?),
                        None => None,
                    };
                    let raster = font.as_ref().unwrap_or_else(|| TextRasterizer::embedded());
                    let shadow_reach = t.shadow_offset[0].abs().max(t.shadow_offset[1].abs())
                        + 2.0 * t.shadow_blur;
                    let padding = (shadow_reach as f32 * scene.px).ceil() as u32 + 2;
                    let style = TextStyle {
                        size_px: t.size.0 * scene.px,
                        align: match t.align {
                            TextAlign::Left => gpu::text::Align::Left,
                            TextAlign::Center => gpu::text::Align::Center,
                            TextAlign::Right => gpu::text::Align::Right,
                        },
                        padding,
                        ..TextStyle::default()
                    };
                    let shown = expand_text(&t.text.0, &vars);
                    let bitmap = raster.render(&shown, &style);
                    if !bitmap.missing.is_empty() {
                        log::warn!(
                            "text \"{}\": the font has no glyph for {:?}; they show as boxes \
                             (set font = \"path/to/font.ttf\" to a font that has them)",
                            t.text.0.chars().take(40).collect::<String>(),
                            bitmap.missing
                        );
                    }
                    let dynamic =
                        t.text.0.contains("{elapsed}") || t.text.0.contains("{remaining}");
                    item.text = Some(TextState {
                        font,
                        template: t.text.0.clone(),
                        shown,
                        style,
                        size: (bitmap.width, bitmap.height),
                        padding,
                        dynamic,
                    });
                    image = Some(LayerImage::Coverage {
                        width: bitmap.width,
                        height: bitmap.height,
                        pixels: bitmap.coverage,
                    });
                }
                let kind = scene.build(layer, &item, &vars)?;
                item.dynamic |= scene.is_dynamic(layer, role);
                let blend = match (layer, role) {
                    // A background's picture and a radial's cover are drawn like the layer's
                    // main part would be drawn over them: plain "over".
                    (_, Role::Picture) => gpu::BlendMode::Normal,
                    // Particles add light unless asked otherwise (order-independent).
                    (Layer::Particles(l), _) => l.blend.map_or(gpu::BlendMode::Add, |b| b.to_gpu()),
                    _ => layer_blend(layer).map_or(gpu::BlendMode::Normal, |b| b.to_gpu()),
                };
                let dynamic_alpha = match layer {
                    Layer::Background(b) => b.opacity.is_reactive(),
                    Layer::Image(l) => {
                        l.opacity.is_reactive()
                            || l.placement().is_reactive()
                            || l.scale.is_reactive()
                            || l.corner.is_reactive()
                    }
                    _ => true,
                };
                specs.push(LayerSpec {
                    kind,
                    blend,
                    image,
                    dynamic_alpha,
                });
                scene.items.push(item);
            }
        }
        Ok((scene, specs))
    }

    /// Seconds of audio the stateful layers need before the first drawn frame (spectrogram
    /// history, particles in flight).
    pub fn preroll_seconds(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| match l {
                Layer::Spectrogram(s) => f64::from(s.seconds.0),
                Layer::Particles(p) => f64::from(p.life.0) * 1.4 + 0.1,
                // The frames whose detections the first drawn frame's box averages.
                Layer::Avatar(a) if a.face_box.is_none() && !is_still(&a.face) => {
                    f64::from(a.smooth.0.saturating_sub(1) * a.detect_every.0) / self.fps
                }
                _ => 0.0,
            })
            .fold(0.0, f64::max)
    }

    fn is_dynamic(&self, layer: &Layer, role: Role) -> bool {
        match layer {
            Layer::Background(b) => {
                role == Role::Picture
                    && (b.zoom.at(&Vars::default()) > 0.0
                        || b.pulse.at(&Vars::default()) > 0.0
                        || b.zoom.is_reactive()
                        || b.pulse.is_reactive())
                    || b.opacity.is_reactive()
            }
            Layer::Image(l) => {
                l.placement().is_reactive()
                    || l.opacity.is_reactive()
                    || l.scale.is_reactive()
                    || l.corner.is_reactive()
            }
            Layer::Bars(l) => {
                l.placement().is_reactive() || l.opacity.is_reactive() || {
                    l.gap.is_reactive() || l.radius.is_reactive()
                }
            }
            Layer::Radial(l) => {
                role == Role::Picture
                    || l.placement().is_reactive()
                    || l.opacity.is_reactive()
                    || l.center.is_reactive()
                    || l.radius.is_reactive()
                    || l.length.is_reactive()
                    || l.rotation.is_reactive()
                    || l.gap.is_reactive()
            }
            Layer::Waveform(l) => {
                l.placement().is_reactive()
                    || l.opacity.is_reactive()
                    || l.thickness.is_reactive()
                    || l.glow.is_reactive()
                    || l.gain.is_reactive()
            }
            Layer::Spectrogram(l) => {
                l.placement().is_reactive() || l.opacity.is_reactive() || l.gamma.is_reactive()
            }
            // Emission changes every frame.
            Layer::Particles(_) => true,
            Layer::Text(l) => {
                l.placement().is_reactive()
                    || l.opacity.is_reactive()
                    || l.position.is_reactive()
                    || l.scale.is_reactive()
            }
            // The fill follows the render's progress.
            Layer::Progress(_) => true,
            Layer::Vignette(l) => {
                l.opacity.is_reactive()
                    || l.strength.is_reactive()
                    || l.radius.is_reactive()
                    || l.softness.is_reactive()
            }
            Layer::Bloom(l) => {
                l.opacity.is_reactive() || l.threshold.is_reactive() || l.intensity.is_reactive()
            }
            Layer::Custom(l) => {
                l.placement().is_reactive()
                    || l.opacity.is_reactive()
                    || l.values.0.iter().any(|v| v.is_reactive())
            }
            // The face box and the generated face change every frame.
            Layer::Avatar(_) => true,
        }
    }

    /// The layer's rectangle in pixels (the whole frame where it has none).
    fn rect_of(&self, layer: &Layer, vars: &Vars) -> [f32; 4] {
        let full = [0.0, 0.0, 1.0, 1.0];
        let (placement, default) = match layer {
            Layer::Background(_) | Layer::Vignette(_) | Layer::Bloom(_) => {
                return [0.0, 0.0, self.size[0], self.size[1]];
            }
            Layer::Image(l) => (l.placement(), [0.3, 0.3, 0.4, 0.4]),
            Layer::Bars(l) => (l.placement(), [0.05, 0.2, 0.9, 0.6]),
            Layer::Radial(l) => (l.placement(), full),
            Layer::Waveform(l) => (l.placement(), [0.05, 0.35, 0.9, 0.3]),
            Layer::Spectrogram(l) => (l.placement(), full),
            Layer::Particles(l) => (l.placement(), full),
            Layer::Text(l) => (l.placement(), full),
            Layer::Progress(l) => (l.placement(), [0.05, 0.92, 0.9, 0.012]),
            Layer::Custom(l) => (l.placement(), full),
            Layer::Avatar(l) => (l.placement(), full),
        };
        placement.at(vars, self.size, default)
    }

    /// The GPU parameters of one item for this frame.
    fn build(&self, layer: &Layer, item: &Item, vars: &Vars) -> Result<LayerKind, RenderError> {
        use crate::expr::Var;
        let px = self.px;
        let rect = self.rect_of(layer, vars);
        let kind = match (layer, item.role) {
            (Layer::Background(b), Role::Main) => {
                let a = b.color.to_gpu().0;
                let angle = (b.angle as f32).to_radians();
                LayerKind::Background(BackgroundParams {
                    color_a: a,
                    color_b: b.color2.map(|c| c.to_gpu().0).unwrap_or(a),
                    direction: [angle.cos(), angle.sin()],
                    mode: u32::from(b.color2.is_some()),
                    opacity: b.opacity.at(vars),
                })
            }
            (Layer::Background(b), Role::Picture) => {
                let zoom = 1.0
                    + b.zoom.at(vars) * vars.get(Var::Progress)
                    + b.pulse.at(vars) * vars.get(Var::Pulse);
                LayerKind::Image(ImageParams {
                    rect,
                    uv_transform: fit_uv(b.fit, item.picture.unwrap_or((1, 1)), rect, zoom),
                    tint: [1.0; 4],
                    opacity: b.opacity.at(vars),
                    shape: 0,
                    corner: 0.0,
                    _pad: 0.0,
                })
            }
            (Layer::Image(l), _) => {
                let r = scale_rect(rect, l.scale.at(vars));
                LayerKind::Image(ImageParams {
                    rect: r,
                    uv_transform: fit_uv(l.fit, item.picture.unwrap_or((1, 1)), r, 1.0),
                    tint: [1.0; 4],
                    opacity: l.opacity.at(vars),
                    shape: u32::from(l.shape == Shape::Circle),
                    corner: l.corner.at(vars) * px,
                    _pad: 0.0,
                })
            }
            (Layer::Avatar(l), _) => {
                let picture = item.picture.unwrap_or((1, 1));
                let face = item.avatar.as_ref().and_then(|a| a.face_uv(picture));
                let feather = l.feather.at(vars);
                LayerKind::Avatar(AvatarParams {
                    rect,
                    uv_transform: fit_uv(l.fit, picture, rect, 1.0),
                    face_box: face.unwrap_or([0.0; 4]),
                    mask: [
                        feather,
                        feather,
                        l.mouth_top.at(vars),
                        if face.is_some() { 1.0 } else { 0.0 },
                    ],
                    opacity: l.opacity.at(vars),
                    _pad: [0.0; 3],
                })
            }
            (Layer::Bars(l), _) => {
                let a = hex_linear(l.color);
                let align = match (l.align, l.mirror) {
                    (_, true) | (Align::Center, _) => 1,
                    (Align::Bottom, _) => 0,
                    (Align::Top, _) => 2,
                };
                let caps = if l.peaks {
                    l.count.0 * if align == 1 { 2 } else { 1 }
                } else {
                    0
                };
                LayerKind::Bars(BarsParams {
                    rect,
                    color_a: a,
                    color_b: l.color2.map(hex_linear).unwrap_or(a),
                    peak_color: l.peak_color.map(hex_linear).unwrap_or([1.0; 4]),
                    count: l.count.0,
                    gap: l.gap.at(vars).min(0.95),
                    radius: l.radius.at(vars).min(0.5),
                    align,
                    opacity: l.opacity.at(vars),
                    min_height: (4.0 * px).max(1.0),
                    gradient: u32::from(l.gradient == GradientAlong::X),
                    symmetric: u32::from(l.symmetric),
                    caps,
                    cap_height: (4.0 * px).max(1.0),
                    _pad: [0.0; 2],
                })
            }
            (Layer::Radial(l), role) => {
                let side = self.size[0].min(self.size[1]);
                let centre = l.center.at(vars, self.size);
                let centre = [
                    rect[0] + centre[0] * rect[2] / self.size[0],
                    rect[1] + centre[1] * rect[3] / self.size[1],
                ];
                let inner = l.radius.at(vars) * side;
                if role == Role::Picture {
                    let d = 2.0 * inner * (1.0 + l.cover_pulse.at(vars) * vars.get(Var::Bass));
                    let r = [centre[0] - 0.5 * d, centre[1] - 0.5 * d, d, d];
                    LayerKind::Image(ImageParams {
                        rect: r,
                        uv_transform: fit_uv(Fit::Cover, item.picture.unwrap_or((1, 1)), r, 1.0),
                        tint: [1.0; 4],
                        opacity: l.opacity.at(vars),
                        shape: 1,
                        corner: 0.0,
                        _pad: 0.0,
                    })
                } else {
                    let a = hex_linear(l.color);
                    LayerKind::Radial(RadialParams {
                        centre,
                        inner,
                        length: l.length.at(vars) * side,
                        color_a: a,
                        color_b: l.color2.map(hex_linear).unwrap_or(a),
                        count: l.count.0,
                        gap: l.gap.at(vars).min(0.95),
                        rotation: l.rotation.at(vars).to_radians(),
                        opacity: l.opacity.at(vars),
                        symmetric: u32::from(l.symmetric),
                        min_length: (2.0 * px).max(1.0),
                        radius: 0.5,
                        _pad: 0.0,
                    })
                }
            }
            (Layer::Waveform(l), _) => {
                let c = hex_linear(l.color);
                LayerKind::Waveform(WaveformParams {
                    rect,
                    color: c,
                    glow_color: l
                        .glow_color
                        .map(hex_linear)
                        .unwrap_or([c[0], c[1], c[2], 0.6]),
                    opacity: l.opacity.at(vars),
                    thickness: (l.thickness.at(vars) * px).max(0.5),
                    glow: l.glow.at(vars) * px,
                    gain: l.gain.at(vars),
                    mode: u32::from(l.style == WaveStyle::Filled),
                    stereo: u32::from(l.stereo),
                    segments: l.points.0.clamp(2, 512),
                    _pad: 0.0,
                })
            }
            (Layer::Spectrogram(l), _) => LayerKind::Spectrogram(SpectrogramParams {
                rect,
                opacity: l.opacity.at(vars),
                columns: ((f64::from(l.seconds.0) * self.fps).round() as u32).clamp(2, 8192),
                palette: match l.palette {
                    Palette::Viridis => 0,
                    Palette::Magma => 1,
                    Palette::Inferno => 2,
                    Palette::Grey => 3,
                },
                gamma: l.gamma.at(vars).max(0.01),
            }),
            (Layer::Particles(l), _) => {
                let c = hex_linear(l.color);
                let end = l.color2.map(hex_linear).unwrap_or([c[0], c[1], c[2], 0.0]);
                LayerKind::Particles(ParticlesParams {
                    rect,
                    color_a: c,
                    color_b: end,
                    emitter: {
                        let p = l.position.at(vars, [rect[2], rect[3]]);
                        [rect[0] + p[0], rect[1] + p[1]]
                    },
                    gravity: [l.gravity[0] as f32 * px, l.gravity[1] as f32 * px],
                    capacity: l.count.0,
                    emit_start: 0,
                    emit_count: 0,
                    shape: match l.emitter {
                        Emitter::Point => 0,
                        Emitter::Area => 1,
                        Emitter::Bottom => 2,
                    },
                    speed: l.speed.at(vars) * px,
                    life: l.life.0,
                    size: (l.size.at(vars) * px).max(0.5),
                    dt: (1.0 / self.fps) as f32,
                    opacity: l.opacity.at(vars),
                    drag: l.drag.at(vars),
                    spread: l.spread.at(vars).to_radians(),
                    direction: l.direction.at(vars).to_radians(),
                })
            }
            (Layer::Text(l), _) => {
                let Some(text) = &item.text else {
                    return Err(RenderError::Thread("text layer without text state".into()));
                };
                let (w, h) = (text.size.0 as f32, text.size.1 as f32);
                let pad = text.padding as f32;
                let anchor = l.position.at(vars, self.size);
                let anchor = [
                    rect[0] + anchor[0] * rect[2] / self.size[0],
                    rect[1] + anchor[1] * rect[3] / self.size[1],
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
                let shadow = l.shadow.map(hex_linear).unwrap_or([0.0; 4]);
                LayerKind::Text(TextParams {
                    rect: scale_rect([x, y, w, h], l.scale.at(vars)),
                    color: hex_linear(l.color),
                    shadow_color: shadow,
                    shadow_offset: [
                        l.shadow_offset[0] as f32 * px,
                        l.shadow_offset[1] as f32 * px,
                    ],
                    opacity: l.opacity.at(vars),
                    shadow_blur: l.shadow_blur as f32 * px,
                })
            }
            (Layer::Progress(l), _) => LayerKind::Progress(ProgressParams {
                rect,
                track: hex_linear(l.track),
                fill: hex_linear(l.color),
                value: vars.get(Var::Progress),
                radius: l.radius.at(vars) * px,
                opacity: l.opacity.at(vars),
                _pad: 0.0,
            }),
            (Layer::Vignette(l), _) => LayerKind::Vignette(VignetteParams {
                color: hex_linear(l.color),
                strength: l.strength.at(vars),
                radius: l.radius.at(vars),
                softness: l.softness.at(vars),
                opacity: l.opacity.at(vars),
            }),
            (Layer::Bloom(l), _) => LayerKind::Bloom(BloomParams {
                threshold: l.threshold.at(vars),
                knee: 0.25,
                intensity: l.intensity.at(vars),
                opacity: l.opacity.at(vars),
                direction: [0.0; 2],
                texel: [0.0; 2],
            }),
            (Layer::Custom(l), _) => {
                let mut values = [0.0f32; 8];
                for (v, r) in values.iter_mut().zip(&l.values.0) {
                    *v = r.eval(vars);
                }
                LayerKind::Custom(
                    CustomParams {
                        rect,
                        values,
                        opacity: l.opacity.at(vars),
                        _pad: [0.0; 3],
                    },
                    self.custom_shader(&l.shader)?,
                )
            }
        };
        Ok(kind)
    }

    fn custom_shader(&self, path: &PathBuf) -> Result<CustomShader, RenderError> {
        let source =
            std::fs::read_to_string(path).map_err(|e| asset_error(path, "a WGSL shader", e))?;
        Ok(CustomShader {
            file: path.display().to_string(),
            source,
        })
    }

    /// Brings every dynamic layer up to date for the frame at `time` (seconds into the audio),
    /// before it is submitted. `drawn` is false for warm-up frames (nothing is shown, only
    /// particles advance).
    pub fn update(
        &mut self,
        renderer: &mut FrameRenderer,
        vars: &Vars,
        time: f64,
        drawn: bool,
    ) -> Result<(), RenderError> {
        use crate::expr::Var;
        let dt = 1.0 / self.fps;
        for i in 0..self.items.len() {
            let item = &self.items[i];
            if !item.dynamic && item.text.as_ref().is_none_or(|t| !t.dynamic) {
                continue;
            }
            let layer = &self.layers[item.layer];
            // Warm-up frames: particles advance, avatars track the face (so the box smoothing
            // of a segment or a preview starts where a whole render would be).
            let avatar = item.avatar.is_some();
            if !drawn && !matches!(layer, Layer::Particles(_)) && !avatar {
                continue;
            }
            // Video frames: start the decoder at the first frame's time.
            if (drawn || avatar) && item.picture.is_some() && self.video_path(layer).is_some() {
                let got = self.next_video_frame(i, renderer, time)?;
                // The CPU backend reads the frame's bytes, which are on the host already.
                if let (true, Some((w, h))) = (got, self.items[i].picture)
                    && let Some(avatar) = self.items[i].avatar.as_mut()
                    && avatar.wants_pixels()
                {
                    avatar.swap_frame(&mut self.frame_buffer, w, h);
                }
            }
            if let Some(avatar) = self.items[i].avatar.as_mut() {
                avatar.process(renderer, i, time, self.fps, drawn)?;
                if !drawn {
                    continue;
                }
            }
            let item = &self.items[i];
            let layer = &self.layers[item.layer];
            if let (Layer::Text(_), Some(text)) = (layer, &item.text)
                && text.dynamic
            {
                let shown = expand_text(&text.template, vars);
                if shown != text.shown {
                    let bitmap = text.raster().render(&shown, &text.style);
                    let size = (bitmap.width, bitmap.height);
                    renderer.set_image(
                        i,
                        &LayerImage::Coverage {
                            width: bitmap.width,
                            height: bitmap.height,
                            pixels: bitmap.coverage,
                        },
                    )?;
                    if let Some(t) = self.items[i].text.as_mut() {
                        t.shown = shown;
                        t.size = size;
                    }
                }
            }
            let item = &self.items[i];
            let layer = &self.layers[item.layer];
            let mut kind = self.build(layer, item, vars)?;
            if let (LayerKind::Particles(p), Layer::Particles(l)) = (&mut kind, layer) {
                let item = &mut self.items[i];
                item.carry += f64::from(l.rate.at(vars)) * dt;
                let mut n = item.carry.floor();
                item.carry -= n;
                if vars.get(Var::Beat) > 0.5 {
                    n += f64::from(l.burst.at(vars));
                }
                let n = (n as u32).min(p.capacity);
                p.emit_start = item.cursor;
                p.emit_count = n;
                item.cursor = (item.cursor + n) % p.capacity.max(1);
            }
            renderer.set_params(i, &kind)?;
        }
        Ok(())
    }

    /// Prepares what the layers run besides drawing (the avatars' lip-sync model and face
    /// detector, on the GPU or the CPU backend). Call once, after the renderer is created.
    pub fn prepare_gpu(&mut self, ctx: &gpu::GpuContext) -> Result<(), RenderError> {
        for item in &mut self.items {
            if let Some(avatar) = item.avatar.as_mut() {
                avatar.prepare(ctx)?;
            }
        }
        Ok(())
    }

    fn video_path(&self, layer: &Layer) -> Option<PathBuf> {
        match layer {
            Layer::Background(b) => b.video.clone(),
            Layer::Image(l) => l.video.clone(),
            Layer::Avatar(a) if !is_still(&a.face) => Some(a.face.clone()),
            _ => None,
        }
    }

    fn next_video_frame(
        &mut self,
        i: usize,
        renderer: &mut FrameRenderer,
        time: f64,
    ) -> Result<bool, RenderError> {
        let layer = &self.layers[self.items[i].layer];
        let Some(path) = self.video_path(layer) else {
            return Ok(false);
        };
        let Some((w, h)) = self.items[i].picture else {
            return Ok(false);
        };
        if self.items[i].video.is_none() {
            self.items[i].video = Some(VideoFrames::spawn(
                &path,
                &VideoFrameOptions {
                    width: w,
                    height: h,
                    fps: self.fps,
                    start: time.max(0.0),
                    looped: true,
                },
            )?);
        }
        let mut buf = std::mem::take(&mut self.frame_buffer);
        let got = match self.items[i].video.as_mut() {
            Some(v) => v.next_frame(&mut buf)?,
            None => false,
        };
        if got {
            let img = LayerImage::Rgba {
                width: w,
                height: h,
                pixels: buf,
            };
            renderer.set_image(i, &img)?;
            let LayerImage::Rgba { pixels, .. } = img else {
                unreachable!("constructed as Rgba above")
            };
            buf = pixels;
        }
        self.frame_buffer = buf;
        Ok(got)
    }
}
