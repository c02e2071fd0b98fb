//! Layer kinds: their uniform parameters (host mirrors of the WGSL structs), textures and
//! blend modes. [`FrameRenderer`](crate::FrameRenderer) turns a list of [`LayerSpec`]s into
//! pipelines and draws them in order.

use bytemuck::{Pod, Zeroable};

/// A colour as the user writes it: sRGB-encoded components in 0..1, straight alpha.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgba(pub [f32; 4]);

impl Rgba {
    /// The colour in linear light (what the shaders blend in), alpha unchanged.
    pub fn to_linear(self) -> [f32; 4] {
        let [r, g, b, a] = self.0;
        [srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), a]
    }
}

/// The sRGB electro-optical transfer function (IEC 61966-2-1).
pub fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// How a layer combines with what is below it (in linear light, premultiplied alpha).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BlendMode {
    /// Porter-Duff "over".
    #[default]
    Normal,
    /// Light adds up (glows, particles).
    Add,
    /// 1 - (1 - a)(1 - b): brightens, never beyond white.
    Screen,
    /// a * b: darkens (shadows, tinting).
    Multiply,
}

impl BlendMode {
    pub(crate) fn state(self) -> wgpu::BlendState {
        use wgpu::{BlendComponent, BlendFactor as F, BlendOperation::Add};
        let alpha = BlendComponent {
            src_factor: F::One,
            dst_factor: F::OneMinusSrcAlpha,
            operation: Add,
        };
        let color = |src_factor, dst_factor| BlendComponent {
            src_factor,
            dst_factor,
            operation: Add,
        };
        let color = match self {
            Self::Normal => color(F::One, F::OneMinusSrcAlpha),
            Self::Add => color(F::One, F::One),
            Self::Screen => color(F::One, F::OneMinusSrc),
            // src * dst + dst * (1 - src_alpha), with premultiplied src.
            Self::Multiply => color(F::Dst, F::OneMinusSrcAlpha),
        };
        wgpu::BlendState { color, alpha }
    }
}

/// Mirror of `BackgroundParams` in shaders/layers/background.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BackgroundParams {
    /// sRGB-encoded colours (as [`Rgba`] holds them), straight alpha; the gradient
    /// interpolates between the encoded values, as CSS gradients do.
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub direction: [f32; 2],
    /// 0 = solid, 1 = linear gradient.
    pub mode: u32,
    pub opacity: f32,
}

/// Mirror of `BarsParams` in shaders/layers/bars.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BarsParams {
    /// x, y, width, height in pixels.
    pub rect: [f32; 4],
    /// Linear-light colours (see [`Rgba::to_linear`]), straight alpha.
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub peak_color: [f32; 4],
    pub count: u32,
    pub gap: f32,
    pub radius: f32,
    /// 0 = from the bottom edge, 1 = both ways from the centre line, 2 = down from the top.
    pub align: u32,
    pub opacity: f32,
    pub min_height: f32,
    /// 0 = colour by height, 1 = along x.
    pub gradient: u32,
    /// 1 = spectrum mirrored left-right.
    pub symmetric: u32,
    /// Cap instances drawn after the bars: 0, `count`, or `2 * count` for centred bars.
    pub caps: u32,
    pub cap_height: f32,
    pub _pad: [f32; 2],
}

/// Mirror of `RadialParams` in shaders/layers/radial.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct RadialParams {
    pub centre: [f32; 2],
    pub inner: f32,
    pub length: f32,
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub count: u32,
    pub gap: f32,
    /// Radians clockwise from 12 o'clock.
    pub rotation: f32,
    pub opacity: f32,
    pub symmetric: u32,
    pub min_length: f32,
    pub radius: f32,
    pub _pad: f32,
}

/// Mirror of `ImageParams` in shaders/layers/image.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ImageParams {
    pub rect: [f32; 4],
    /// uv = xy + local * zw.
    pub uv_transform: [f32; 4],
    pub tint: [f32; 4],
    pub opacity: f32,
    /// 0 = rectangle, 1 = ellipse.
    pub shape: u32,
    pub corner: f32,
    pub _pad: f32,
}

/// Mirror of `AvatarParams` in shaders/layers/avatar.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct AvatarParams {
    pub rect: [f32; 4],
    /// uv = xy + local * zw.
    pub uv_transform: [f32; 4],
    /// Face box in texture coordinates: x0, y0, x1, y1.
    pub face_box: [f32; 4],
    /// Feather width as a fraction of the box (x, y), top of the blended region as a fraction
    /// of the box height, 1.0 when a generated face is present.
    pub mask: [f32; 4],
    pub opacity: f32,
    pub _pad: [f32; 3],
}

/// Floats in the generated face an avatar layer blends: B, G, R planes of 96 x 96.
pub const AVATAR_FACE_FLOATS: usize = 3 * 96 * 96;

/// The avatar layer's blend weight at `q` (0..1 across the face box) for feather widths
/// `feather` (fractions of the box) and the top of the blended region `top`: a CPU mirror of
/// `avatar_mask` in shaders/layers/avatar.wgsl.
pub fn avatar_mask(q: [f32; 2], feather: [f32; 2], top: f32) -> f32 {
    let smooth = |t: f32, w: f32| {
        let x = (t / w.max(1e-4)).clamp(0.0, 1.0);
        x * x * (3.0 - 2.0 * x)
    };
    let mx = smooth(q[0], feather[0]) * smooth(1.0 - q[0], feather[0]);
    let my = smooth(q[1] - top, feather[1]) * smooth(1.0 - q[1], feather[1]);
    mx * my
}

/// Mirror of `WaveformParams` in shaders/layers/waveform.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct WaveformParams {
    pub rect: [f32; 4],
    pub color: [f32; 4],
    pub glow_color: [f32; 4],
    pub opacity: f32,
    pub thickness: f32,
    pub glow: f32,
    pub gain: f32,
    /// 0 = line, 1 = filled.
    pub mode: u32,
    /// 0 = mono, 1 = stereo split.
    pub stereo: u32,
    pub segments: u32,
    pub _pad: f32,
}

/// Mirror of `SpectrogramParams` in shaders/layers/spectrogram.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct SpectrogramParams {
    pub rect: [f32; 4],
    pub opacity: f32,
    /// Frames of history (width of the ring texture), 2..=8192.
    pub columns: u32,
    /// 0 viridis, 1 magma, 2 inferno, 3 grey.
    pub palette: u32,
    pub gamma: f32,
}

/// Mirror of `ParticlesParams` in shaders/shared/particles.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ParticlesParams {
    pub rect: [f32; 4],
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub emitter: [f32; 2],
    pub gravity: [f32; 2],
    /// Slots (fixed at creation, 1..=65536).
    pub capacity: u32,
    pub emit_start: u32,
    pub emit_count: u32,
    /// 0 = point emitter, 1 = anywhere in the rect, 2 = along its bottom edge.
    pub shape: u32,
    pub speed: f32,
    pub life: f32,
    pub size: f32,
    pub dt: f32,
    pub opacity: f32,
    pub drag: f32,
    pub spread: f32,
    pub direction: f32,
}

/// Bytes of one particle in the state buffer (`Particle` in shaders/shared/particles.wgsl).
pub const PARTICLE_BYTES: u64 = 32;

/// Mirror of `TextParams` in shaders/layers/text.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct TextParams {
    pub rect: [f32; 4],
    pub color: [f32; 4],
    pub shadow_color: [f32; 4],
    pub shadow_offset: [f32; 2],
    pub opacity: f32,
    pub shadow_blur: f32,
}

/// Mirror of `ProgressParams` in shaders/layers/progress.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ProgressParams {
    pub rect: [f32; 4],
    pub track: [f32; 4],
    pub fill: [f32; 4],
    pub value: f32,
    pub radius: f32,
    pub opacity: f32,
    pub _pad: f32,
}

/// Mirror of `VignetteParams` in shaders/layers/vignette.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct VignetteParams {
    pub color: [f32; 4],
    pub strength: f32,
    pub radius: f32,
    pub softness: f32,
    pub opacity: f32,
}

/// Mirror of `BloomParams` in shaders/post/bloom.wgsl (the host sets `direction` and `texel`
/// per pass).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BloomParams {
    pub threshold: f32,
    pub knee: f32,
    pub intensity: f32,
    pub opacity: f32,
    pub direction: [f32; 2],
    pub texel: [f32; 2],
}

/// Mirror of `CustomParams` in shaders/layers/custom.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct CustomParams {
    pub rect: [f32; 4],
    pub values: [f32; 8],
    pub opacity: f32,
    pub _pad: [f32; 3],
}

/// A user's WGSL file for a custom layer (see `shaders/layers/custom.wgsl` for what it may use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomShader {
    /// Shown in errors (the user's path).
    pub file: String,
    pub source: String,
}

/// Pixels for a layer's texture.
#[derive(Clone, PartialEq, Eq)]
pub enum LayerImage {
    /// sRGB-encoded RGBA8, straight alpha, row-major (images, video frames).
    Rgba {
        width: u32,
        height: u32,
        pixels: Vec<u8>,
    },
    /// 8-bit coverage, row-major (rasterised text).
    Coverage {
        width: u32,
        height: u32,
        pixels: Vec<u8>,
    },
}

impl std::fmt::Debug for LayerImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, w, h) = match self {
            Self::Rgba { width, height, .. } => ("Rgba", width, height),
            Self::Coverage { width, height, .. } => ("Coverage", width, height),
        };
        write!(f, "LayerImage::{kind}({w}x{h})")
    }
}

impl LayerImage {
    /// True for RGBA pixels that are all fully opaque (coverage images never are).
    pub fn is_opaque(&self) -> bool {
        match self {
            Self::Rgba { pixels, .. } => pixels.chunks_exact(4).all(|p| p[3] == 255),
            Self::Coverage { .. } => false,
        }
    }

    pub fn size(&self) -> (u32, u32) {
        match self {
            Self::Rgba { width, height, .. } | Self::Coverage { width, height, .. } => {
                (*width, *height)
            }
        }
    }

    pub(crate) fn format(&self) -> wgpu::TextureFormat {
        match self {
            Self::Rgba { .. } => wgpu::TextureFormat::Rgba8UnormSrgb,
            Self::Coverage { .. } => wgpu::TextureFormat::R8Unorm,
        }
    }

    pub(crate) fn bytes_per_pixel(&self) -> u32 {
        match self {
            Self::Rgba { .. } => 4,
            Self::Coverage { .. } => 1,
        }
    }

    pub(crate) fn pixels(&self) -> &[u8] {
        match self {
            Self::Rgba { pixels, .. } | Self::Coverage { pixels, .. } => pixels,
        }
    }

    /// Checks that the pixel buffer matches the size.
    pub(crate) fn check(&self) -> Result<(), crate::GpuError> {
        let (w, h) = self.size();
        let expected = u64::from(w) * u64::from(h) * u64::from(self.bytes_per_pixel());
        if w == 0 || h == 0 || self.pixels().len() as u64 != expected {
            return Err(crate::GpuError::Config(format!(
                "layer image of {w}x{h} has {} bytes, expected {expected}",
                self.pixels().len()
            )));
        }
        Ok(())
    }
}

/// What a layer draws and its parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LayerKind {
    Background(BackgroundParams),
    /// Needs [`LayerSpec::image`] (RGBA).
    Image(ImageParams),
    Bars(BarsParams),
    Radial(RadialParams),
    Waveform(WaveformParams),
    Spectrogram(SpectrogramParams),
    Particles(ParticlesParams),
    /// Needs [`LayerSpec::image`] (coverage).
    Text(TextParams),
    Progress(ProgressParams),
    Vignette(VignetteParams),
    Bloom(BloomParams),
    Custom(CustomParams, CustomShader),
    /// Needs [`LayerSpec::image`] (RGBA: the face picture or video frame); its storage buffer
    /// ([`FrameRenderer::layer_storage`](crate::FrameRenderer::layer_storage)) receives the
    /// generated face ([`AVATAR_FACE_FLOATS`] floats).
    Avatar(AvatarParams),
}

/// One layer of the stack, drawn in order over the previous ones.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    pub kind: LayerKind,
    pub blend: BlendMode,
    /// The texture of image and text layers (replaced per frame with
    /// [`FrameRenderer::set_image`](crate::FrameRenderer::set_image)).
    pub image: Option<LayerImage>,
    /// True when later parameters may make the layer translucent or uncover part of the frame
    /// (a reactive opacity or placement): it is then never drawn as an opaque base layer.
    pub dynamic_alpha: bool,
}

impl From<LayerKind> for LayerSpec {
    fn from(kind: LayerKind) -> Self {
        let blend = match kind {
            LayerKind::Particles(_) => BlendMode::Add,
            _ => BlendMode::Normal,
        };
        Self {
            kind,
            blend,
            image: None,
            dynamic_alpha: false,
        }
    }
}

impl LayerKind {
    /// The embedded shader file that draws this kind.
    pub(crate) fn shader(&self) -> &'static str {
        match self {
            Self::Background(_) => "layers/background.wgsl",
            Self::Image(_) => "layers/image.wgsl",
            Self::Bars(_) => "layers/bars.wgsl",
            Self::Radial(_) => "layers/radial.wgsl",
            Self::Waveform(_) => "layers/waveform.wgsl",
            Self::Spectrogram(_) => "layers/spectrogram.wgsl",
            Self::Particles(_) => "layers/particles.wgsl",
            Self::Text(_) => "layers/text.wgsl",
            Self::Progress(_) => "layers/progress.wgsl",
            Self::Vignette(_) => "layers/vignette.wgsl",
            Self::Bloom(_) => "post/bloom.wgsl",
            Self::Custom(..) => "layers/custom.wgsl",
            Self::Avatar(_) => "layers/avatar.wgsl",
        }
    }

    /// Label used for wgpu objects, e.g. "layer.bars".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Background(_) => "background",
            Self::Image(_) => "image",
            Self::Bars(_) => "bars",
            Self::Radial(_) => "radial",
            Self::Waveform(_) => "waveform",
            Self::Spectrogram(_) => "spectrogram",
            Self::Particles(_) => "particles",
            Self::Text(_) => "text",
            Self::Progress(_) => "progress",
            Self::Vignette(_) => "vignette",
            Self::Bloom(_) => "bloom",
            Self::Custom(..) => "custom",
            Self::Avatar(_) => "avatar",
        }
    }

    /// True when the layer covers every pixel with alpha 1, so it can overwrite instead of
    /// blend (blending reads the target back, which software rasterisers pay for per pixel).
    pub(crate) fn is_opaque(&self, (width, height): (u32, u32)) -> bool {
        match self {
            Self::Background(p) => {
                p.opacity >= 1.0 && p.color_a[3] >= 1.0 && (p.mode == 0 || p.color_b[3] >= 1.0)
            }
            // A picture covering the frame, not clipped, sampled inside the image (the texture's
            // own alpha is checked separately).
            Self::Image(p) => {
                let [x, y, w, h] = p.rect;
                let [u, v, su, sv] = p.uv_transform;
                let e = 1e-4;
                p.opacity >= 1.0
                    && p.tint[3] >= 1.0
                    && p.shape == 0
                    && p.corner <= 0.0
                    && x <= 0.0
                    && y <= 0.0
                    && x + w >= width as f32
                    && y + h >= height as f32
                    && u >= -e
                    && v >= -e
                    && u + su <= 1.0 + e
                    && v + sv <= 1.0 + e
            }
            _ => false,
        }
    }

    /// True when the shader has the `OUTPUT_ENCODED` override (it can be drawn as a base layer).
    pub(crate) fn has_encoded_output(&self) -> bool {
        matches!(self, Self::Background(_) | Self::Image(_))
    }

    /// Vertices and instances of the layer's draw call.
    pub(crate) fn draw_range(&self) -> (u32, u32) {
        match self {
            // One triangle covering the frame.
            Self::Background(_) | Self::Vignette(_) | Self::Bloom(_) => (3, 1),
            Self::Image(_)
            | Self::Text(_)
            | Self::Progress(_)
            | Self::Spectrogram(_)
            | Self::Avatar(_)
            | Self::Custom(..) => (6, 1),
            // One quad per bar, then one per peak cap.
            Self::Bars(p) => (6, p.count + p.caps),
            Self::Radial(p) => (6, p.count),
            Self::Waveform(p) => (6, p.segments.max(1) * (1 + p.stereo.min(1))),
            Self::Particles(p) => (6, p.capacity),
        }
    }

    pub(crate) fn params_bytes(&self) -> &[u8] {
        match self {
            Self::Background(p) => bytemuck::bytes_of(p),
            Self::Image(p) => bytemuck::bytes_of(p),
            Self::Bars(p) => bytemuck::bytes_of(p),
            Self::Radial(p) => bytemuck::bytes_of(p),
            Self::Waveform(p) => bytemuck::bytes_of(p),
            Self::Spectrogram(p) => bytemuck::bytes_of(p),
            Self::Particles(p) => bytemuck::bytes_of(p),
            Self::Text(p) => bytemuck::bytes_of(p),
            Self::Progress(p) => bytemuck::bytes_of(p),
            Self::Vignette(p) => bytemuck::bytes_of(p),
            Self::Bloom(p) => bytemuck::bytes_of(p),
            Self::Custom(p, _) => bytemuck::bytes_of(p),
            Self::Avatar(p) => bytemuck::bytes_of(p),
        }
    }
}
