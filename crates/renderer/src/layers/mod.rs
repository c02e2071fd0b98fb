//! Layer kinds, one module each: the kind's `[[layer]]` table (keys, defaults, checks across
//! keys; which keys react to the audio follows from their types), the GPU layers it becomes
//! ([`LayerDef::build`]) and how their parameters follow each frame ([`Part::update`]). The
//! [`Scene`](crate::scene::Scene) runs the parts without knowing any kind; `layer_kinds!` at
//! the bottom of this file is the one list of kinds.
//!
//! Adding a kind: a module here (its table with `layer_struct!`, `impl LayerDef`, its parts),
//! one line in `layer_kinds!`, its GPU side in `crates/gpu/src/layers/` (params mirror + shader)
//! and its row in the README's job reference.

use std::fmt;
use std::path::{Path, PathBuf};

use gpu::{FrameRenderer, GpuContext, LayerImage, LayerKind, LayerSpec};

use crate::RenderError;
use crate::expr::Vars;
use crate::job::JobError;

pub(crate) mod avatar;
mod background;
mod bars;
mod bloom;
mod captions;
mod custom;
mod image;
mod particles;
pub(crate) mod picture;
mod progress;
mod radial;
mod spectrogram;
mod text;
pub(crate) mod values;
mod vignette;
mod waveform;

pub use avatar::{AvatarLayer, NoFace};
pub use background::BackgroundLayer;
pub use bars::{Align, BarsLayer, GradientAlong};
pub use bloom::BloomLayer;
pub use captions::{CaptionsLayer, Highlight};
pub use custom::CustomLayer;
pub use image::{ImageLayer, Shape};
pub use particles::{Emitter, ParticlesLayer};
pub use progress::ProgressLayer;
pub use radial::RadialLayer;
pub use spectrogram::{Palette, SpectrogramLayer};
pub use text::{TextAlign, TextBaseline, TextLayer};
pub use values::{Blend, Fit, Fraction, Placement, Point, Rect};
pub use vignette::VignetteLayer;
pub use waveform::{WaveStyle, WaveformLayer};

use values::LayerTable;

/// A layer kind. Implemented in the kind's module; listed once in `layer_kinds!`.
pub(crate) trait LayerDef: LayerTable + Sized {
    /// `kind = "..."` in job files.
    const KIND: &'static str;
    /// Other names the `kind` key accepts.
    const ALIASES: &'static [&'static str] = &[];
    /// Where the layer is drawn without `rect` / `rect_px`, as fractions of the frame; `None`:
    /// the kind always covers the whole frame and refuses a placement.
    const DEFAULT_RECT: Option<[f32; 4]>;
    /// The blend mode without a `blend` key.
    const DEFAULT_BLEND: gpu::BlendMode = gpu::BlendMode::Normal;

    /// Checks across the kind's own keys (after deserialising).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// The files the layer reads, mutable (relative paths are resolved against the job file).
    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        Vec::new()
    }

    /// Checks that read files or start processes (kept out of parsing, which stays pure), and
    /// keeps what they read so the render does not read it again. `job` labels errors.
    fn preflight(&mut self, _job: &str) -> Result<(), JobError> {
        Ok(())
    }

    /// Seconds of audio the layer needs before the first drawn frame (state built up over
    /// time: spectrogram history, particles in flight, an avatar's box smoothing).
    fn preroll_seconds(&self, _fps: f64) -> f64 {
        0.0
    }

    /// Adds the GPU layers that draw this layer (in drawing order) and loads what they need,
    /// so a missing or bad file fails before any frame is drawn.
    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError>;
}

/// The blend mode a layer's main part is drawn with.
pub(crate) fn blend_of<L: LayerDef>(layer: &L) -> gpu::BlendMode {
    layer.blend().map_or(L::DEFAULT_BLEND, Blend::to_gpu)
}

/// Checks every kind shares: one placement at most, none for full-frame kinds.
fn check_common<L: LayerDef>(layer: &L) -> Result<(), String> {
    let placement = layer.placement();
    placement.check()?;
    if L::DEFAULT_RECT.is_none() && (placement.rect.is_some() || placement.rect_px.is_some()) {
        return Err("this kind always covers the whole frame: remove rect / rect_px".into());
    }
    Ok(())
}

/// A colour as the shaders take it: linear light, straight alpha.
pub(crate) fn linear(c: crate::job::Color) -> [f32; 4] {
    c.to_gpu().to_linear()
}

/// What a frame's parameters are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub vars: &'a Vars,
    /// Output size in pixels.
    pub size: [f32; 2],
    /// Output pixels per job pixel: job lengths are for a frame whose shorter side is 1080
    /// (1920x1080, 1080x1920, 1080x1080), so a job looks the same at any size or orientation.
    pub px: f32,
    pub fps: f64,
    /// Seconds into the audio.
    pub time: f64,
    /// False on warm-up frames (nothing is shown; stateful layers advance).
    pub drawn: bool,
}

impl Frame<'_> {
    /// The layer's rectangle in pixels (the whole frame for full-frame kinds).
    pub(crate) fn rect<L: LayerDef>(&self, layer: &L) -> [f32; 4] {
        match L::DEFAULT_RECT {
            None => [0.0, 0.0, self.size[0], self.size[1]],
            Some(default) => layer.placement().at(self.vars, self.size, default),
        }
    }
}

/// One GPU layer's share of the frame renderer, handed to [`Part::update`].
pub(crate) struct Slot<'a> {
    pub renderer: &'a mut FrameRenderer,
    /// The GPU layer's index in the renderer.
    pub index: usize,
    /// A reusable buffer for decoded video frames (shared by all parts).
    pub frame_buffer: &'a mut Vec<u8>,
}

impl Slot<'_> {
    pub(crate) fn set_params(&mut self, kind: &LayerKind) -> Result<(), RenderError> {
        Ok(self.renderer.set_params(self.index, kind)?)
    }

    pub(crate) fn set_image(&mut self, image: &LayerImage) -> Result<(), RenderError> {
        Ok(self.renderer.set_image(self.index, image)?)
    }
}

/// A GPU layer's per-frame state: what brings it up to date before a frame is submitted.
pub(crate) trait Part: fmt::Debug + Send {
    /// The parameters may change from frame to frame ([`Self::update`] is called every frame).
    fn is_dynamic(&self) -> bool;

    /// Updated on warm-up frames too (particles, an avatar tracking its face).
    fn warms_up(&self) -> bool {
        false
    }

    /// Prepares work besides drawing on the render's device (an avatar's networks). Called
    /// once, after the frame renderer exists.
    fn prepare(&mut self, _ctx: &GpuContext) -> Result<(), RenderError> {
        Ok(())
    }

    /// Brings the GPU layer up to date for `frame`.
    fn update(&mut self, frame: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError>;
}

/// A GPU layer whose parameters follow from the job's values and the frame alone.
#[derive(Debug)]
pub(crate) struct Plain<L> {
    layer: L,
    dynamic: bool,
    params: fn(&L, &Frame<'_>) -> LayerKind,
}

impl<L> Plain<L> {
    pub(crate) fn new(layer: L, dynamic: bool, params: fn(&L, &Frame<'_>) -> LayerKind) -> Self {
        Self {
            layer,
            dynamic,
            params,
        }
    }
}

impl<L: fmt::Debug + Send> Part for Plain<L> {
    fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    fn update(&mut self, frame: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        slot.set_params(&(self.params)(&self.layer, frame))
    }
}

/// Collects a job's GPU layers and their parts.
pub(crate) struct Builder<'a> {
    pub size: [f32; 2],
    pub px: f32,
    pub fps: f64,
    /// The job's audio (an avatar's speech by default).
    pub audio: &'a Path,
    /// The job's chapters (`{chapter}` in text), by start.
    pub chapters: std::sync::Arc<Vec<crate::job::Chapter>>,
    vars: Vars,
    parts: Vec<Box<dyn Part>>,
    specs: Vec<LayerSpec>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        width: u32,
        height: u32,
        fps: f64,
        audio: &'a Path,
        chapters: &[crate::job::Chapter],
    ) -> Self {
        Self {
            size: [width as f32, height as f32],
            px: width.min(height) as f32 / 1080.0,
            fps,
            audio,
            chapters: std::sync::Arc::new(chapters.to_vec()),
            vars: Vars::default(),
            parts: Vec::new(),
            specs: Vec::new(),
        }
    }

    /// The frame the first parameters are computed for: every reactor at its rest value.
    pub(crate) fn frame(&self) -> Frame<'_> {
        Frame {
            vars: &self.vars,
            size: self.size,
            px: self.px,
            fps: self.fps,
            time: 0.0,
            drawn: true,
        }
    }

    /// Adds a GPU layer drawn with `spec`, kept up to date by `part`.
    pub(crate) fn push(&mut self, part: impl Part + 'static, spec: LayerSpec) {
        self.parts.push(Box::new(part));
        self.specs.push(spec);
    }

    /// Adds a GPU layer with parameters from `params` alone: dynamic when the layer has a
    /// reactor (or `always` is set), drawn with the layer's blend mode, never an opaque base.
    pub(crate) fn push_plain<L: LayerDef + Clone + fmt::Debug + Send + 'static>(
        &mut self,
        layer: &L,
        always: bool,
        params: fn(&L, &Frame<'_>) -> LayerKind,
    ) {
        let kind = params(layer, &self.frame());
        let part = Plain::new(layer.clone(), always || layer.is_reactive(), params);
        let spec = LayerSpec {
            kind,
            blend: blend_of(layer),
            image: None,
            dynamic_alpha: true,
        };
        self.push(part, spec);
    }

    pub(crate) fn finish(self) -> (Vec<Box<dyn Part>>, Vec<LayerSpec>) {
        (self.parts, self.specs)
    }
}

/// The one list of layer kinds: generates [`Layer`] and its dispatch to each kind's
/// [`LayerDef`].
macro_rules! layer_kinds {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// One `[[layer]]` of the stack.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Layer {
            $($variant($ty),)*
        }

        /// The `kind` names, each followed by its aliases, in the order of the README's job
        /// reference (what an unknown kind's error lists).
        pub(crate) static KINDS: std::sync::LazyLock<Vec<&'static str>> =
            std::sync::LazyLock::new(|| {
                let mut names = Vec::new();
                $(
                    names.push(<$ty as LayerDef>::KIND);
                    names.extend_from_slice(<$ty as LayerDef>::ALIASES);
                )*
                names
            });

        impl Layer {
            /// The `kind` as written in job files.
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$ty as LayerDef>::KIND,)*
                }
            }

            /// The kind a `kind` value names (aliases resolved).
            pub(crate) fn kind_named(name: &str) -> Option<&'static str> {
                $(
                    if name == <$ty as LayerDef>::KIND
                        || <$ty as LayerDef>::ALIASES.contains(&name)
                    {
                        return Some(<$ty as LayerDef>::KIND);
                    }
                )*
                None
            }

            /// Deserialises the table of a layer of kind `kind` (as [`Self::kind_named`]
            /// returns it).
            pub(crate) fn deserialize_kind<'de, D: serde::Deserializer<'de>>(
                kind: &str,
                de: D,
            ) -> Result<Self, D::Error> {
                $(
                    if kind == <$ty as LayerDef>::KIND {
                        return <$ty as serde::Deserialize>::deserialize(de).map(Self::$variant);
                    }
                )*
                Err(serde::de::Error::unknown_variant(kind, &KINDS))
            }

            /// Checks across the keys of one layer.
            pub(crate) fn check(&self) -> Result<(), String> {
                match self {
                    $(Self::$variant(l) => check_common(l).and_then(|()| l.check()),)*
                }
            }

            /// The files this layer reads, mutable (to resolve relative paths).
            pub(crate) fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
                match self {
                    $(Self::$variant(l) => l.paths_mut(),)*
                }
            }

            /// See [`LayerDef::preflight`].
            pub(crate) fn preflight(&mut self, job: &str) -> Result<(), JobError> {
                match self {
                    $(Self::$variant(l) => l.preflight(job),)*
                }
            }

            /// See [`LayerDef::preroll_seconds`].
            pub(crate) fn preroll_seconds(&self, fps: f64) -> f64 {
                match self {
                    $(Self::$variant(l) => l.preroll_seconds(fps),)*
                }
            }

            /// See [`LayerDef::build`].
            pub(crate) fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
                match self {
                    $(Self::$variant(l) => l.build(b),)*
                }
            }
        }
    };
}

layer_kinds! {
    Background(BackgroundLayer),
    Image(ImageLayer),
    Bars(BarsLayer),
    Radial(RadialLayer),
    Waveform(WaveformLayer),
    Spectrogram(SpectrogramLayer),
    Particles(ParticlesLayer),
    Text(TextLayer),
    Captions(CaptionsLayer),
    Progress(ProgressLayer),
    Vignette(VignetteLayer),
    Bloom(BloomLayer),
    Custom(CustomLayer),
    Avatar(AvatarLayer),
}
