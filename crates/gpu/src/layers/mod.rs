//! Layer kinds. One file per kind holds its parameters (the `#[repr(C)]` host mirror of its
//! WGSL struct) and its [`Kind`] implementation: name, shader, draw range, whether it can be an
//! opaque base layer, and any GPU state of its own (a texture, a storage buffer, a [`Pass`] of
//! its own such as the spectrogram's history update, the particle simulation or bloom's
//! blur). The `layer_kinds!` list below generates [`LayerKind`] and its dispatch from them.
//! This file also holds what every kind shares: colours, [`BlendMode`], [`LayerImage`],
//! [`LayerSpec`]. [`FrameRenderer`](crate::FrameRenderer) turns a list of [`LayerSpec`]s into
//! pipelines and draws them in order.

mod avatar;
mod background;
mod bars;
mod bloom;
mod custom;
mod image;
mod particles;
mod progress;
mod radial;
mod spectrogram;
mod text;
mod vignette;
mod waveform;

pub use avatar::{AVATAR_FACE_FLOATS, AvatarParams, avatar_mask};
pub use background::BackgroundParams;
pub use bars::BarsParams;
pub use bloom::BloomParams;
pub use custom::CustomParams;
pub use image::ImageParams;
pub use particles::{PARTICLE_BYTES, ParticlesParams};
pub use progress::ProgressParams;
pub use radial::RadialParams;
pub use spectrogram::SpectrogramParams;
pub use text::TextParams;
pub use vignette::VignetteParams;
pub use waveform::WaveformParams;

use bytemuck::Pod;

use crate::GpuError;
use crate::renderer::Setup;

/// What a layer kind is, implemented by its parameters struct. The generic renderer creates
/// every layer's uniform buffer (these bytes), its texture when [`Self::TEXTURED`] (from
/// [`LayerSpec::image`]), sampler, bind group and pipeline; a kind adds the rest in
/// [`Self::resources`].
pub(crate) trait Kind: Pod {
    /// Label of the kind's wgpu objects ("layer.<name>") and its name in errors.
    const NAME: &'static str;
    /// The embedded shader file that draws this kind (`vs_main`, `fs_main`).
    const SHADER: &'static str;
    /// Draws [`LayerSpec::image`], which it then needs.
    const TEXTURED: bool = false;
    /// The shader has the `OUTPUT_ENCODED` override (it can be drawn as a base layer).
    const ENCODED_OUTPUT: bool = false;
    /// The blend mode a [`LayerSpec`] made from the kind starts with.
    const BLEND: BlendMode = BlendMode::Normal;

    /// Vertices and instances of the layer's draw call.
    fn draw_range(&self) -> (u32, u32);

    /// True when the layer covers every pixel of a frame of `size` with alpha 1, so it can
    /// overwrite instead of blend (blending reads the target back, which software rasterisers
    /// pay for per pixel).
    fn is_opaque(&self, _size: (u32, u32)) -> bool {
        false
    }

    /// The kind's own GPU state, created once with the layer (after its parameter buffer and
    /// texture).
    fn resources(&self, _setup: &mut Setup<'_>) -> Result<Resources, GpuError> {
        Ok(Resources::default())
    }
}

/// What a kind adds to the layer's generic resources.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    /// The texture the layer samples (binding 1) when it is not [`LayerSpec::image`].
    pub view: Option<wgpu::TextureView>,
    /// Sample with u repeating (a ring texture) instead of clamped.
    pub repeat_u: bool,
    /// The storage buffer the layer reads (binding 3), also handed out by
    /// [`FrameRenderer::layer_storage`](crate::FrameRenderer::layer_storage).
    pub storage: Option<wgpu::Buffer>,
    /// Passes of the layer's own, recorded around the layer passes.
    pub pass: Option<Box<dyn Pass>>,
}

/// GPU work a layer records besides its draw call.
pub(crate) trait Pass: std::fmt::Debug + Send {
    /// True when the layer keeps state from frame to frame: its [`Self::update`] then runs on
    /// warm-up frames too.
    fn is_stateful(&self) -> bool {
        false
    }

    /// Records the per-frame state update, before any layer is drawn. `frame` is the frame's
    /// bind group (group 0).
    fn update(&self, _encoder: &mut wgpu::CommandEncoder, _frame: &wgpu::BindGroup, _index: u32) {}

    /// True when the layer reads the frame drawn before it: the layer pass ends before it and
    /// [`Self::encode_post`] runs between the passes.
    fn reads_frame(&self) -> bool {
        false
    }

    /// Records the passes that read the frame so far.
    fn encode_post(&self, _encoder: &mut wgpu::CommandEncoder, _frame: &wgpu::BindGroup) {}

    /// The layer's parameters were replaced with `bytes` (its uniform buffer is already
    /// written): update any copies of them.
    fn params_changed(&self, _queue: &wgpu::Queue, _bytes: &[u8]) {}
}

/// Declares the layer kinds, once: generates [`LayerKind`] (one variant per kind, the
/// parameters first) and its methods, each delegating to the parameters' [`Kind`].
macro_rules! layer_kinds {
    ($($(#[$doc:meta])* $variant:ident($params:ty $(, $more:ty)*),)*) => {
        /// What a layer draws and its parameters.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum LayerKind {
            $($(#[$doc])* $variant($params $(, $more)*),)*
        }

        impl LayerKind {
            /// The embedded shader file that draws this kind.
            pub(crate) fn shader(&self) -> &'static str {
                match self {
                    $(Self::$variant(..) => <$params as Kind>::SHADER,)*
                }
            }

            /// Label used for wgpu objects, e.g. "layer.bars".
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(..) => <$params as Kind>::NAME,)*
                }
            }

            /// True when the kind draws [`LayerSpec::image`].
            pub(crate) fn is_textured(&self) -> bool {
                match self {
                    $(Self::$variant(..) => <$params as Kind>::TEXTURED,)*
                }
            }

            /// True when the shader has the `OUTPUT_ENCODED` override (it can be drawn as a
            /// base layer).
            pub(crate) fn has_encoded_output(&self) -> bool {
                match self {
                    $(Self::$variant(..) => <$params as Kind>::ENCODED_OUTPUT,)*
                }
            }

            fn default_blend(&self) -> BlendMode {
                match self {
                    $(Self::$variant(..) => <$params as Kind>::BLEND,)*
                }
            }

            /// True when the layer covers every pixel with alpha 1, so it can overwrite instead
            /// of blend (see [`Kind::is_opaque`]).
            pub(crate) fn is_opaque(&self, size: (u32, u32)) -> bool {
                match self {
                    $(Self::$variant(p, ..) => p.is_opaque(size),)*
                }
            }

            /// Vertices and instances of the layer's draw call.
            pub(crate) fn draw_range(&self) -> (u32, u32) {
                match self {
                    $(Self::$variant(p, ..) => p.draw_range(),)*
                }
            }

            pub(crate) fn params_bytes(&self) -> &[u8] {
                match self {
                    $(Self::$variant(p, ..) => bytemuck::bytes_of(p),)*
                }
            }

            /// The kind's own GPU state (see [`Kind::resources`]).
            pub(crate) fn resources(&self, setup: &mut Setup<'_>) -> Result<Resources, GpuError> {
                match self {
                    $(Self::$variant(p, ..) => p.resources(setup),)*
                }
            }
        }
    };
}

layer_kinds! {
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

impl LayerKind {
    /// The user's shader of a custom layer (its module is built from this, not [`Self::shader`]).
    pub(crate) fn custom_shader(&self) -> Option<&CustomShader> {
        match self {
            Self::Custom(_, shader) => Some(shader),
            _ => None,
        }
    }
}

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

/// A user's WGSL file for a custom layer (see `shaders/layers/custom.wgsl` for what it may use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomShader {
    /// Shown in errors (the user's path).
    pub file: std::sync::Arc<str>,
    /// Shared, not copied, by the parameters of every frame.
    pub source: std::sync::Arc<str>,
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
        Self {
            blend: kind.default_blend(),
            kind,
            image: None,
            dynamic_alpha: false,
        }
    }
}
