//! `kind = "avatar"`: a talking face. The face picture or video (looped) is drawn like an
//! image; its lower face is replaced by Wav2Lip's lip-synced face ([`lipsync`]), blended
//! through a feathered mask. Faces are found by MTCNN unless `box` is given.

use std::path::PathBuf;

use gpu::{AvatarParams, GpuContext, LayerImage, LayerKind, LayerSpec};
use serde::Deserialize;
use wav2lip::BackendChoice;
use wav2lip::gemm::Precision;

use super::picture::{Picture, fit_uv, is_still};
use super::values::{Fit, Fraction, checked, layer_struct, plain};
use super::{Builder, Frame, LayerDef, Part, Slot, blend_of};
use crate::{JobError, RenderError};

mod ahead;
mod faces;
pub(crate) mod lipsync;
mod speakers;

pub use faces::FaceSelect;
use lipsync::Avatar;

/// Wav2Lip's crop padding around the detected face, in pixels of the face picture:
/// [top, bottom, left, right].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<i64>")]
pub struct Pads(pub [u32; 4]);

impl TryFrom<Vec<i64>> for Pads {
    type Error = String;
    fn try_from(v: Vec<i64>) -> Result<Self, String> {
        match v.as_slice() {
            &[t, b, l, r] if [t, b, l, r].iter().all(|p| (0..=2000).contains(p)) => {
                Ok(Self([t as u32, b as u32, l as u32, r as u32]))
            }
            _ => Err(format!(
                "pads must be [top, bottom, left, right], each 0..=2000 pixels, got {v:?}"
            )),
        }
    }
}

/// A fixed face box in pixels of the face picture: [x0, y0, x1, y1].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "Vec<f64>")]
pub struct FaceBox(pub [f32; 4]);

impl TryFrom<Vec<f64>> for FaceBox {
    type Error = String;
    fn try_from(v: Vec<f64>) -> Result<Self, String> {
        match v.as_slice() {
            &[x0, y0, x1, y1]
                if [x0, y0, x1, y1].iter().all(|c| c.is_finite() && *c >= 0.0)
                    && x1 - x0 >= 8.0
                    && y1 - y0 >= 8.0 =>
            {
                Ok(Self([x0 as f32, y0 as f32, x1 as f32, y1 as f32]))
            }
            _ => Err(format!(
                "box must be [x0, y0, x1, y1] in pixels of the face picture, x1 >= x0 + 8 and \
                 y1 >= y0 + 8, got {v:?}"
            )),
        }
    }
}

checked!(
    /// An integer within a range, for counts of frames.
    FrameCount(u32) from i64 = "i64",
    |v| (1..=10_000).contains(&v),
    |v| format!("must be a number of frames between 1 and 10000, got {v}"),
);

checked!(
    /// Frames of a still face generated per run of the lip-sync generator (1..=256).
    Batch(u32) from i64 = "i64",
    |v| (1..=256).contains(&v),
    |v| format!("batch must be a number of frames between 1 and 256, got {v}"),
);

checked!(
    /// The smallest face searched for, in pixels of the face picture (12..=4000).
    MinFace(f32) from f64 = "f64",
    |v| v.is_finite() && (12.0..=4000.0).contains(&v),
    |v| format!("min_face must be between 12 and 4000 pixels, got {v}"),
);

/// What an avatar does on a frame where no face is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoFace {
    /// Stop with an error naming the frame.
    #[default]
    Error,
    /// Keep the last box found (the picture is shown unchanged until a first face is found).
    Hold,
    /// Show the picture unchanged while no face is found; lip sync fades back in over
    /// `fade_in` frames when one returns.
    Pass,
}

/// `backend = "auto" | "gpu" | "cpu"`: which executor runs an avatar's networks, read by
/// wav2lip's own parser (one list of names for the job key and the CLI option).
fn lipsync_backend<'de, D: serde::Deserializer<'de>>(de: D) -> Result<BackendChoice, D::Error> {
    String::deserialize(de)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// `precision = "f32" | "f16"`: the GPU backend's GEMM arithmetic, read by wav2lip's parser.
fn lipsync_precision<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Precision, D::Error> {
    String::deserialize(de)?
        .parse()
        .map_err(serde::de::Error::custom)
}

layer_struct!(
    /// `kind = "avatar"`: a talking face. The face picture or video (looped) is drawn like an
    /// image; its lower face is replaced by Wav2Lip's lip-synced face, blended through a
    /// feathered mask. Faces are found by MTCNN unless `box` is given.
    AvatarLayer {
        /// The face: a PNG/JPEG still or a video (any format ffmpeg reads; looped).
        face: PathBuf = PathBuf::new(),
        /// The Wav2Lip generator's weights (wav2lip.pth, wav2lip_gan.pth, or safetensors).
        checkpoint: PathBuf = PathBuf::new(),
        /// The voice the lips follow; the job's audio by default.
        speech: Option<PathBuf> = None,
        /// Folder holding the MTCNN weights (pnet.pt, rnet.pt, onet.pt); default: the cache
        /// folder (`cargo xtask fetch-mtcnn` fills it).
        detector: Option<PathBuf> = None,
        fit: Fit = Fit::Cover,
        /// Crop padding around the face: [top, bottom, left, right], pixels of the picture.
        pads: Pads = Pads([0, 10, 0, 0]),
        /// A fixed face box [x0, y0, x1, y1] (pixels of the picture): no detection.
        #[serde(rename = "box")]
        face_box: Option<FaceBox> = None,
        /// Mean of N boxes found (video): centred on the frame, or the last N.
        smooth: FrameCount = FrameCount(5),
        /// "centered" (default): the boxes around the frame, detected ahead by a second decoder
        /// of the face video, as Wav2Lip smooths; "causal": the last N only (no look-ahead).
        smoothing: Smoothing = Smoothing::Centered,
        /// Run the detector on every N-th frame of a video (the box is held in between).
        detect_every: FrameCount = FrameCount(1),
        /// Smallest face searched for, in pixels of the picture.
        min_face: MinFace = MinFace(40.0),
        /// "error" (default), "hold" (keep the last box) or "pass" (the picture unchanged
        /// until a face returns, then lip sync fades in over `fade_in` frames).
        on_no_face: NoFace = NoFace::Error,
        /// Frames over which lip sync fades in when a face appears (with on_no_face = "pass").
        fade_in: FrameCount = FrameCount(4),
        /// Which face: "largest" (default), "center", "track" (the one followed so far,
        /// through frames where it is hidden), or [x, y]: the face nearest that point (pixels
        /// of the picture).
        face_select: FaceSelect = FaceSelect::Largest,
        /// Watch a face video for shot changes: at a cut the box smoothing starts over and the
        /// face is detected on that frame (fades are not cuts).
        cuts: bool = true,
        /// A diarisation file (RTTM, or JSON turns {start, end, speaker}) of the speech: with
        /// `speaker`, this face lip-syncs during that speaker's turns and keeps its own mouth
        /// otherwise (fading over `fade_in` frames).
        speakers: Option<PathBuf> = None,
        /// This face's speaker in the `speakers` file.
        speaker: Option<String> = None,
        /// "picture" (default): the face picture with the mouth blended in; "mouth": only the
        /// blended mouth, for a second face of the same video under another avatar layer.
        draw: Draw = Draw::Picture,
        /// How the 96x96 generated face is upsampled into the frame: "sharp" (clamped
        /// Catmull-Rom: edges as steep as a cubic, without its halos) or "smooth" (bilinear).
        mouth_filter: MouthFilter = MouthFilter::Sharp,
        /// Not a job key: the speaker's turns, read and checked by the preflight.
        #[serde(skip)]
        turns: LoadedTurns = LoadedTurns(None),
        /// Width of the mask's soft edge, fraction of the face box.
        feather: Fraction = Fraction::from(0.15),
        /// Where the blended region starts, fraction of the face box's height from its top.
        mouth_top: Fraction = Fraction::from(0.45),
        /// Which executor runs the networks: "auto" (the CPU on a software adapter, else the
        /// GPU), "gpu" or "cpu".
        #[serde(deserialize_with = "lipsync_backend")]
        backend: BackendChoice = BackendChoice::Auto,
        /// Frames of a still face generated per run of the generator, ahead of the drawn frame
        /// (on the absolute frame grid, so segments and previews match a whole render); each
        /// drawn frame shows its slice. Default: 16 on the CPU backend (as fast as 32, ~170 MB
        /// less memory at 720p), 64 on the GPU. Video faces run one frame at a time.
        batch: Option<Batch> = None,
        /// The GPU backend's arithmetic: "f32" (default), or "f16" operands with f32
        /// accumulation on tensor cores (cooperative matrices; unverified, never run on a GPU
        /// yet; the job fails where the adapter lacks them).
        #[serde(deserialize_with = "lipsync_precision")]
        precision: Precision = Precision::F32,
    }
);

/// `draw`: what an avatar layer draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Draw {
    /// The face picture with the generated mouth blended in.
    #[default]
    Picture,
    /// Only the generated mouth region (alpha = the feathered mask): over the same picture
    /// drawn by another avatar layer, for a second face.
    Mouth,
}

/// `smoothing`: which boxes a video face's box averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Smoothing {
    /// `smooth` boxes centred on the frame (detected ahead).
    #[default]
    #[serde(alias = "centred")]
    Centered,
    /// The last `smooth` boxes.
    Causal,
}

/// `mouth_filter`: how the generated face is upsampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MouthFilter {
    /// Clamped Catmull-Rom bicubic.
    #[default]
    Sharp,
    /// Bilinear.
    Smooth,
}

/// The speaker's turns as the preflight read them (not a job key).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadedTurns(pub(crate) Option<std::sync::Arc<speakers::Turns>>);

plain!(
    Pads,
    FaceBox,
    NoFace,
    FaceSelect,
    BackendChoice,
    Precision,
    LoadedTurns,
    Draw,
    MouthFilter,
    Smoothing
);

impl LayerDef for AvatarLayer {
    const KIND: &'static str = "avatar";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.0, 0.0, 1.0, 1.0]);

    fn check(&self) -> Result<(), String> {
        if self.face.as_os_str().is_empty() {
            return Err("an avatar layer needs face = \"face.mp4\" (a video) or a PNG/JPEG".into());
        }
        if self.checkpoint.as_os_str().is_empty() {
            return Err(
                "an avatar layer needs checkpoint = \"wav2lip.pth\" (the Wav2Lip \
                        generator's weights; none ships with this tool)"
                    .into(),
            );
        }
        if self.feather.is_reactive() || self.mouth_top.is_reactive() {
            return Err("feather and mouth_top take plain numbers".into());
        }
        match (&self.speakers, &self.speaker) {
            (Some(_), None) => Err(
                "speakers names a diarisation file; add speaker = \"NAME\" (the speaker whose \
                 turns this face speaks)"
                    .into(),
            ),
            (None, Some(_)) => Err(
                "speaker needs speakers = \"turns.rttm\" (or a JSON of turns) saying when \
                 each speaker speaks"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        let mut out = vec![&mut self.face, &mut self.checkpoint];
        out.extend(
            self.speech
                .iter_mut()
                .chain(self.detector.iter_mut())
                .chain(self.speakers.iter_mut()),
        );
        out
    }

    fn preflight(&mut self, job: &str) -> Result<(), JobError> {
        if let (Some(file), Some(speaker)) = (&self.speakers, &self.speaker) {
            let turns = std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|text| speakers::read(file, &text, speaker))
                .map_err(|e| JobError::Parse {
                    path: job.to_owned(),
                    message: format!("avatar layer: speakers {}: {e}", file.display()),
                })?;
            self.turns = LoadedTurns(Some(std::sync::Arc::new(turns)));
        }
        Ok(())
    }

    /// The frames whose detections the first drawn frame's box averages, and those of the
    /// lip-sync fade (with on_no_face = "pass" or speakers).
    fn preroll_seconds(&self, fps: f64) -> f64 {
        // Centred smoothing also replays the frame before the window (its cut check) and a
        // detection interval (the grid detection a window frame falls back on).
        let smoothing = match (
            self.face_box.is_none() && !is_still(&self.face),
            self.smoothing,
        ) {
            (false, _) => 0,
            (true, Smoothing::Causal) => self.smooth.0.saturating_sub(1) * self.detect_every.0,
            (true, Smoothing::Centered) => {
                (self.smooth.0.saturating_sub(1) + 1) * self.detect_every.0 + 1
            }
        };
        let fade = if self.on_no_face == NoFace::Pass || self.speakers.is_some() {
            self.fade_in.0
        } else {
            0
        };
        f64::from(smoothing.max(fade)) / fps
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        let rect = b.frame().rect(self);
        let (picture, image) = Picture::open(&self.face, !is_still(&self.face), self.fit, rect)?;
        let mut avatar = Avatar::load(self, b.audio)?;
        // A still's bytes, for the CPU backend (dropped if the GPU runs the nets).
        if let LayerImage::Rgba {
            width,
            height,
            pixels,
        } = &image
            && !picture.is_video()
        {
            avatar.set_pixels(pixels, *width, *height);
        }
        let part = AvatarPart {
            layer: self.clone(),
            picture,
            avatar: Box::new(avatar),
        };
        let spec = LayerSpec {
            kind: part.params(&b.frame()),
            blend: blend_of(self),
            image: Some(image),
            dynamic_alpha: true,
        };
        b.push(part, spec);
        Ok(())
    }
}

/// The face picture and its lip-sync state.
#[derive(Debug)]
struct AvatarPart {
    layer: AvatarLayer,
    picture: Picture,
    avatar: Box<Avatar>,
}

impl AvatarPart {
    fn params(&self, f: &Frame<'_>) -> LayerKind {
        let l = &self.layer;
        let rect = f.rect(l);
        let face = self.avatar.face_uv(self.picture.size);
        let feather = l.feather.at(f.vars);
        LayerKind::Avatar(AvatarParams {
            rect,
            uv_transform: fit_uv(l.fit, self.picture.size, rect, 1.0),
            face_box: face.unwrap_or([0.0; 4]),
            mask: [
                feather,
                feather,
                l.mouth_top.at(f.vars),
                self.avatar.weight(),
            ],
            opacity: l.opacity.at(f.vars),
            mouth_only: if l.draw == Draw::Mouth { 1.0 } else { 0.0 },
            sharp: if l.mouth_filter == MouthFilter::Sharp {
                1.0
            } else {
                0.0
            },
            _pad: 0.0,
        })
    }
}

impl Part for AvatarPart {
    /// The face box and the generated face change every frame.
    fn is_dynamic(&self) -> bool {
        true
    }

    /// Warm-up frames track the face, so the box smoothing of a segment or a preview starts
    /// where a whole render would be.
    fn warms_up(&self) -> bool {
        true
    }

    fn prepare(&mut self, ctx: &GpuContext) -> Result<(), RenderError> {
        self.avatar.prepare(ctx)
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        let got = self.picture.next_frame(f, slot)?;
        // The CPU backend reads the frame's bytes, which are on the host already.
        if got && self.avatar.wants_pixels() {
            let (w, h) = self.picture.size;
            self.avatar.swap_frame(slot.frame_buffer, w, h);
        }
        self.avatar
            .process(slot.renderer, slot.index, f.time, f.fps, f.drawn)?;
        if !f.drawn {
            return Ok(());
        }
        slot.set_params(&self.params(f))
    }
}
