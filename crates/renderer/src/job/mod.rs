//! The job file (`job.toml`, version 1): what to render, validated on load.
//!
//! Every value is checked while the TOML is deserialised, so a bad value is reported with the
//! line and column where it stands. Relative paths resolve against the job file's folder.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

// Every layer table and its value types (the kinds' own modules export them).
pub use crate::layers::*;

/// Job file format version this build reads.
pub const JOB_VERSION: u32 = 1;

/// Problems with a job file or with values given in code or on the command line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    #[error("cannot read job file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("job file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("{0}")]
    Shader(String),
}

fn invalid(what: &str, message: impl Into<String>) -> JobError {
    JobError::Invalid {
        what: what.to_owned(),
        message: message.into(),
    }
}

macro_rules! bounded {
    ($(#[$meta:meta])* $name:ident($ty:ty), $min:expr, $max:expr, $what:literal, $extra:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
        #[serde(try_from = "f64")]
        pub struct $name(pub $ty);

        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from(v: f64) -> Result<Self, String> {
                let extra: fn($ty) -> Option<&'static str> = $extra;
                if !v.is_finite() || v < ($min as f64) || v > ($max as f64) {
                    return Err(format!(
                        "{} must be between {} and {}, got {v}", $what, $min, $max
                    ));
                }
                let value = v as $ty;
                if (value as f64) != v {
                    return Err(format!("{} must be a whole number, got {v}", $what));
                }
                if let Some(why) = extra(value) {
                    return Err(format!("{} {v} {why}", $what));
                }
                Ok(Self(value))
            }
        }
    };
}

bounded!(
    /// Output width or height in pixels: even (4:2:0 chroma), 16..=7680.
    Dimension(u32), 16, 7680, "width/height", |v| (v % 2 != 0).then_some(
        "must be even: H.264 4:2:0 video stores colour per 2x2 block"
    )
);
bounded!(
    /// x264 constant rate factor; NVENC's constant-quality level or QP.
    Crf(u8), 0, 51, "quality (CRF)", |_| None
);
bounded!(
    /// NVENC bit rate in kbit/s (rate_control = "cbr" or "vbr").
    Bitrate(u32), 100, 1_000_000, "bitrate (kbit/s)", |_| None
);
bounded!(
    /// Frames from one IDR frame to the next (NVENC's GOP).
    Keyint(u32), 1, 100_000, "keyint (frames)", |_| None
);

/// Frames per second, 1..=120 (fractional rates such as 29.97 are allowed).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Fps(pub f64);

impl TryFrom<f64> for Fps {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (1.0..=120.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!("fps must be between 1 and 120, got {v}"))
        }
    }
}

macro_rules! ranged_f32 {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
        #[serde(try_from = "f64")]
        pub struct $name(pub f32);

        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from(v: f64) -> Result<Self, String> {
                if v.is_finite() && ($min..=$max).contains(&v) {
                    Ok(Self(v as f32))
                } else {
                    Err(format!("{} must be between {} and {}, got {v}", $what, $min, $max))
                }
            }
        }
    };
}

ranged_f32!(
    /// A frequency in Hz for band edges.
    Hz, 1.0, 96_000.0, "frequency (Hz)"
);
ranged_f32!(
    /// Level floor in dB below the reference.
    FloorDb, -150.0, -6.0, "floor_db"
);
ranged_f32!(
    /// Tilt compensation in dB per octave.
    Tilt, -12.0, 12.0, "tilt (dB per octave)"
);
ranged_f32!(
    /// Normalisation percentile.
    Percentile, 50.0, 100.0, "percentile"
);
ranged_f32!(
    /// A time constant in milliseconds.
    Millis, 0.0, 60_000.0, "time (ms)"
);
ranged_f32!(
    /// Peak fall-off rate in levels per second.
    FallRate, 0.0, 1000.0, "peak_fall (levels per second)"
);

/// Number of analysis bands, 8..=512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct BandCount(pub u32);

impl TryFrom<i64> for BandCount {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (8..=512).contains(&v) {
            Ok(Self(v as u32))
        } else {
            Err(format!("bands must be between 8 and 512, got {v}"))
        }
    }
}

/// Band spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    #[default]
    Log,
    Mel,
    Linear,
}

/// `[analysis]`: how audio becomes per-frame features. Defaults suit music and speech.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSettings {
    /// Number of bands; default: the largest bars `count` (clamped to 8..=512).
    pub bands: Option<BandCount>,
    pub scale: Scale,
    pub min_hz: Hz,
    pub max_hz: Hz,
    pub floor_db: FloorDb,
    pub a_weighting: bool,
    pub tilt: Tilt,
    pub normalize: bool,
    pub percentile: Percentile,
    pub attack_ms: Millis,
    pub release_ms: Millis,
    pub peak_hold_ms: Millis,
    pub peak_fall: FallRate,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        let d = audio::AnalysisConfig::default();
        Self {
            bands: None,
            scale: Scale::Log,
            min_hz: Hz(d.min_hz),
            max_hz: Hz(d.max_hz),
            floor_db: FloorDb(d.floor_db),
            a_weighting: d.a_weighting,
            tilt: Tilt(d.tilt_db_per_octave),
            normalize: d.normalize,
            percentile: Percentile(d.percentile),
            attack_ms: Millis(d.attack_ms),
            release_ms: Millis(d.release_ms),
            peak_hold_ms: Millis(d.peak_hold_ms),
            peak_fall: FallRate(d.peak_fall_per_s),
        }
    }
}

impl AnalysisSettings {
    /// The analysis configuration for a job whose largest bars layer has `bars` bars.
    pub fn to_config(&self, bars: Option<u32>) -> audio::AnalysisConfig {
        let bands = self
            .bands
            .map(|b| b.0)
            .or(bars.map(|b| b.clamp(8, 512)))
            .unwrap_or(64);
        audio::AnalysisConfig {
            bands: bands as usize,
            scale: match self.scale {
                Scale::Log => audio::BandScale::Log,
                Scale::Mel => audio::BandScale::Mel,
                Scale::Linear => audio::BandScale::Linear,
            },
            min_hz: self.min_hz.0,
            max_hz: self.max_hz.0,
            floor_db: self.floor_db.0,
            a_weighting: self.a_weighting,
            tilt_db_per_octave: self.tilt.0,
            normalize: self.normalize,
            percentile: self.percentile.0,
            attack_ms: self.attack_ms.0,
            release_ms: self.release_ms.0,
            peak_hold_ms: self.peak_hold_ms.0,
            peak_fall_per_s: self.peak_fall.0,
            ..audio::AnalysisConfig::default()
        }
    }
}

/// A number in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Unit(pub f32);

impl TryFrom<f64> for Unit {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(Self(v as f32))
        } else {
            Err(format!("must be between 0 and 1, got {v}"))
        }
    }
}

/// A colour: "#rgb", "#rrggbb" or "#rrggbbaa" (sRGB, straight alpha).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Color(pub [u8; 4]);

impl TryFrom<String> for Color {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for Color {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "colour \"{}\" is not valid: write \"#rrggbb\", \"#rrggbbaa\" or \"#rgb\"",
                s.chars().take(40).collect::<String>()
            )
        };
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        let nibble = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).map(|v| v * 17);
        match hex.len() {
            3 => Ok(Self([
                nibble(0).map_err(|_| bad())?,
                nibble(1).map_err(|_| bad())?,
                nibble(2).map_err(|_| bad())?,
                255,
            ])),
            6 => Ok(Self([byte(0)?, byte(2)?, byte(4)?, 255])),
            8 => Ok(Self([byte(0)?, byte(2)?, byte(4)?, byte(6)?])),
            _ => Err(bad()),
        }
    }
}

impl Color {
    pub fn to_gpu(self) -> gpu::Rgba {
        gpu::Rgba(self.0.map(|c| f32::from(c) / 255.0))
    }
}

/// Which encoder turns frames into video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderChoice {
    /// The best available: NVENC (zero-copy) where it works, else x264 through ffmpeg.
    #[default]
    Auto,
    /// H.264 with libx264 in an ffmpeg child process.
    X264,
    /// NVIDIA's hardware encoder, fed from GPU memory; an error where it cannot work.
    Nvenc,
    /// Render and read frames back, encode nothing (throughput measurement).
    Null,
}

impl std::str::FromStr for EncoderChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "x264" => Ok(Self::X264),
            "nvenc" => Ok(Self::Nvenc),
            "null" => Ok(Self::Null),
            _ => Err(format!(
                "unknown encoder \"{s}\": use \"auto\", \"x264\", \"nvenc\" or \"null\""
            )),
        }
    }
}

impl fmt::Display for EncoderChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::X264 => "x264",
            Self::Nvenc => "nvenc",
            Self::Null => "null",
        })
    }
}

/// Video codec (`[video] codec`): H.264 everywhere, HEVC with NVENC only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodecChoice {
    #[default]
    H264,
    Hevc,
}

/// NVENC rate control (`[video] rate_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateControlChoice {
    /// Constant quality at level `quality` (VBR with a quality target).
    #[default]
    Quality,
    /// Every frame at QP `quality`.
    ConstQp,
    /// Constant bit rate `bitrate`.
    Cbr,
    /// Variable bit rate averaging `bitrate`, peaks up to twice that.
    Vbr,
}

/// NVENC preset `p1` (fastest) .. `p7` (best).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct NvencPreset(pub u8);

impl TryFrom<String> for NvencPreset {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        match t.strip_prefix('p').and_then(|n| n.parse::<u8>().ok()) {
            Some(n @ 1..=7) => Ok(Self(n)),
            _ => Err(format!(
                "nvenc_preset \"{}\" is not one of p1 (fastest) .. p7 (best)",
                s.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// x264 preset names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Preset(pub String);

impl TryFrom<String> for Preset {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if media::X264_PRESETS.contains(&s.as_str()) {
            Ok(Self(s))
        } else {
            Err(format!(
                "preset \"{}\" is not one of {}",
                s.chars().take(40).collect::<String>(),
                media::X264_PRESETS.join(", ")
            ))
        }
    }
}

/// Frame shape presets: `aspect` with `size` (the short side) instead of width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Aspect {
    /// Landscape (YouTube): 1920x1080 at size 1080.
    #[serde(rename = "16:9")]
    Landscape,
    /// Vertical (Shorts, Reels, TikTok): 1080x1920.
    #[serde(rename = "9:16")]
    Vertical,
    /// Square: 1080x1080.
    #[serde(rename = "1:1")]
    Square,
    /// Portrait feed (Instagram): 1080x1350.
    #[serde(rename = "4:5")]
    Portrait,
}

impl Aspect {
    /// (width, height) for a short side of `size` pixels, both even.
    pub fn dimensions(self, size: u32) -> (u32, u32) {
        let even = |v: f64| ((v / 2.0).round() as u32) * 2;
        let s = f64::from(size);
        match self {
            Self::Landscape => (even(s * 16.0 / 9.0), size),
            Self::Vertical => (size, even(s * 16.0 / 9.0)),
            Self::Square => (size, size),
            Self::Portrait => (size, even(s * 5.0 / 4.0)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawVideoSettings {
    width: Option<Dimension>,
    height: Option<Dimension>,
    aspect: Option<Aspect>,
    size: Option<Dimension>,
    fps: Option<Fps>,
    encoder: EncoderChoice,
    quality: Crf,
    preset: Preset,
    adapter: String,
    codec: CodecChoice,
    nvenc_preset: NvencPreset,
    rate_control: RateControlChoice,
    bitrate: Option<Bitrate>,
    keyint: Option<Keyint>,
}

impl Default for RawVideoSettings {
    fn default() -> Self {
        let d = VideoSettings::default();
        Self {
            width: None,
            height: None,
            aspect: None,
            size: None,
            fps: None,
            encoder: d.encoder,
            quality: d.quality,
            preset: d.preset,
            adapter: d.adapter,
            codec: d.codec,
            nvenc_preset: d.nvenc_preset,
            rate_control: d.rate_control,
            bitrate: d.bitrate,
            keyint: d.keyint,
        }
    }
}

impl TryFrom<RawVideoSettings> for VideoSettings {
    type Error = String;
    fn try_from(raw: RawVideoSettings) -> Result<Self, String> {
        let (width, height) = match (raw.aspect, raw.width, raw.height) {
            (Some(aspect), None, None) => {
                let size = raw.size.map_or(1080, |s| s.0);
                let (w, h) = aspect.dimensions(size);
                if w.max(h) > 7680 {
                    return Err(format!(
                        "size {size} with that aspect gives {w}x{h}; sides are limited to 7680"
                    ));
                }
                (Dimension(w), Dimension(h))
            }
            (Some(_), _, _) => {
                return Err("give either aspect (with size) or width and height, not both".into());
            }
            (None, w, h) => {
                if raw.size.is_some() {
                    return Err(
                        "size goes with aspect (e.g. aspect = \"9:16\", size = 1080)".into(),
                    );
                }
                let d = VideoSettings::default();
                (w.unwrap_or(d.width), h.unwrap_or(d.height))
            }
        };
        let d = VideoSettings::default();
        let v = Self {
            width,
            height,
            fps: raw.fps.unwrap_or(d.fps),
            encoder: raw.encoder,
            quality: raw.quality,
            preset: raw.preset,
            adapter: raw.adapter,
            size_given: raw.aspect.is_some() || raw.width.is_some() || raw.height.is_some(),
            fps_given: raw.fps.is_some(),
            codec: raw.codec,
            nvenc_preset: raw.nvenc_preset,
            rate_control: raw.rate_control,
            bitrate: raw.bitrate,
            keyint: raw.keyint,
        };
        v.check_encoder()?;
        Ok(v)
    }
}

/// `[video]`: output size, frame rate, encoder.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawVideoSettings")]
pub struct VideoSettings {
    pub width: Dimension,
    pub height: Dimension,
    pub fps: Fps,
    pub encoder: EncoderChoice,
    pub quality: Crf,
    pub preset: Preset,
    pub adapter: String,
    /// The job file set the size (width/height or aspect); otherwise a full-frame avatar over
    /// a face video sets it to the video's.
    pub size_given: bool,
    /// The job file set `fps`; otherwise a full-frame avatar over a face video sets it.
    pub fps_given: bool,
    /// H.264 or HEVC (HEVC needs NVENC).
    pub codec: CodecChoice,
    /// NVENC preset (NVENC only).
    pub nvenc_preset: NvencPreset,
    /// NVENC rate control (NVENC only).
    pub rate_control: RateControlChoice,
    /// kbit/s for rate_control = "cbr" / "vbr".
    pub bitrate: Option<Bitrate>,
    /// IDR interval in frames for NVENC (default: 2 seconds of frames).
    pub keyint: Option<Keyint>,
}

impl VideoSettings {
    /// Checks that the encoder keys fit together (also for settings built in code).
    pub fn check_encoder(&self) -> Result<(), String> {
        if self.codec == CodecChoice::Hevc && self.encoder == EncoderChoice::X264 {
            return Err(
                "codec = \"hevc\" needs encoder = \"nvenc\" (or \"auto\" on an \
                        NVENC GPU); x264 encodes H.264 only"
                    .into(),
            );
        }
        match (self.rate_control, self.bitrate) {
            (RateControlChoice::Cbr | RateControlChoice::Vbr, None) => Err(format!(
                "rate_control = \"{}\" needs a bitrate (kbit/s), e.g. bitrate = 8000",
                if self.rate_control == RateControlChoice::Cbr {
                    "cbr"
                } else {
                    "vbr"
                }
            )),
            (RateControlChoice::Quality | RateControlChoice::ConstQp, Some(_)) => Err(
                "bitrate is used with rate_control = \"cbr\" or \"vbr\" only; remove it or \
                 set rate_control"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// The IDR interval in frames: `keyint`, or two seconds of frames.
    pub fn keyint_frames(&self) -> u32 {
        self.keyint
            .map_or_else(|| (self.fps.0 * 2.0).round().max(1.0) as u32, |k| k.0)
    }
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            width: Dimension(1920),
            height: Dimension(1080),
            fps: Fps(30.0),
            encoder: EncoderChoice::Auto,
            quality: Crf(20),
            preset: Preset("veryfast".into()),
            adapter: "auto".into(),
            size_given: false,
            fps_given: false,
            codec: CodecChoice::H264,
            nvenc_preset: NvencPreset(4),
            rate_control: RateControlChoice::Quality,
            bitrate: None,
            keyint: None,
        }
    }
}

/// A number of bars (or waveform points), 1..=1024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct BarCount(pub u32);

impl TryFrom<i64> for BarCount {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (1..=1024).contains(&v) {
            Ok(Self(v as u32))
        } else {
            Err(format!("count must be between 1 and 1024, got {v}"))
        }
    }
}

/// Fails deserialisation with `message` at the span of the value it is given.
struct FailAt(String);

impl<'de> serde::de::DeserializeSeed<'de> for FailAt {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct V(String);
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
                Err(E::custom(self.0))
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// Used only to report a `[[layer]]` without `kind`.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct KindOnly {
    kind: serde::de::IgnoredAny,
}

/// The `kind` key of a `[[layer]]` table: a kind's name or alias, resolved to its name.
struct KindName(&'static str);

impl<'de> Deserialize<'de> for KindName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = KindName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a layer kind")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KindName, E> {
                Layer::kind_named(v)
                    .map(KindName)
                    .ok_or_else(|| E::unknown_variant(v, &crate::layers::KINDS))
            }
        }
        d.deserialize_str(V)
    }
}

/// A render job: the parsed and validated `job.toml`, or one built in code.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Job format version; only 1 exists.
    pub version: Version,
    /// Audio file (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A).
    pub audio: PathBuf,
    /// Output MP4 (ignored with encoder = "null").
    pub output: PathBuf,
    /// Seconds into the audio where the video starts.
    pub start: f64,
    /// Seconds to render; omit for the rest of the audio.
    pub duration: Option<f64>,
    pub video: VideoSettings,
    /// `[analysis]` settings.
    pub analysis: AnalysisSettings,
    /// `[[layer]]` entries in file order.
    pub layers: Vec<Layer>,
}

/// The job file without its `[[layer]]` entries (those are parsed one by one, by kind).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobHead {
    #[serde(default)]
    version: Version,
    audio: PathBuf,
    #[serde(default = "default_output")]
    output: PathBuf,
    #[serde(default)]
    start: f64,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    video: VideoSettings,
    #[serde(default)]
    analysis: AnalysisSettings,
}

/// Parses a job document. Layers are deserialised one at a time from their own spanned tables
/// (rather than through serde's buffered internally-tagged enums) so that every error keeps
/// the line and column of the offending key or value.
fn parse_document(text: &str) -> Result<Job, toml::de::Error> {
    use toml::de::{DeTable, DeValue, Deserializer, ValueDeserializer};

    let root = DeTable::parse(text)?;
    let span = root.span();
    let mut table = root.into_inner();
    let layer_entries = table.remove("layer");
    let head = JobHead::deserialize(Deserializer::from(toml::Spanned::new(span, table)))?;
    let mut layers = Vec::new();
    if let Some(entries) = layer_entries {
        let entries_span = entries.span();
        let items = match entries.into_inner() {
            DeValue::Array(items) => items,
            other => {
                // Not an array of tables: let serde describe the type mismatch at its span.
                let de = ValueDeserializer::from(toml::Spanned::new(entries_span, other));
                Vec::<toml::Table>::deserialize(de)?;
                Default::default()
            }
        };
        for item in items {
            let item_span = item.span();
            let mut fields = match item.into_inner() {
                DeValue::Table(t) => t,
                other => {
                    let de = ValueDeserializer::from(toml::Spanned::new(item_span, other));
                    toml::Table::deserialize(de)?;
                    continue;
                }
            };
            let Some(kind) = fields.remove("kind") else {
                let de =
                    ValueDeserializer::from(toml::Spanned::new(item_span, DeValue::Table(fields)));
                KindOnly::deserialize(de)?;
                continue;
            };
            let KindName(kind) = KindName::deserialize(ValueDeserializer::from(kind))?;
            let de = ValueDeserializer::from(toml::Spanned::new(
                item_span.clone(),
                DeValue::Table(fields),
            ));
            let layer = Layer::deserialize_kind(kind, de)?;
            if let Err(message) = layer.check() {
                use serde::de::DeserializeSeed;
                let at = ValueDeserializer::from(toml::Spanned::new(
                    item_span.clone(),
                    DeValue::Boolean(false),
                ));
                FailAt(format!("{} layer: {message}", layer.kind_name())).deserialize(at)?;
            }
            layers.push(layer);
        }
    }
    Ok(Job {
        version: head.version,
        audio: head.audio,
        output: head.output,
        start: head.start,
        duration: head.duration,
        video: head.video,
        analysis: head.analysis,
        layers,
    })
}

/// The job format version, checked while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Version(pub u32);

impl Default for Version {
    fn default() -> Self {
        Self(JOB_VERSION)
    }
}

impl TryFrom<i64> for Version {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if v == i64::from(JOB_VERSION) {
            Ok(Self(JOB_VERSION))
        } else {
            Err(format!(
                "job format version {v} is not supported by this build (it reads version \
                 {JOB_VERSION})"
            ))
        }
    }
}

fn default_output() -> PathBuf {
    PathBuf::from("output.mp4")
}

impl Job {
    /// A job with default settings (1920x1080@30, x264, a background and 64 bars).
    pub fn new(audio: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
        Self {
            version: Version::default(),
            audio: audio.into(),
            output: output.into(),
            start: 0.0,
            duration: None,
            video: VideoSettings::default(),
            analysis: AnalysisSettings::default(),
            layers: vec![
                Layer::Background(BackgroundLayer::default()),
                Layer::Bars(BarsLayer::default()),
            ],
        }
    }

    /// Reads and validates a job file; relative paths resolve against its folder.
    pub fn from_file(path: &Path) -> Result<Self, JobError> {
        let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Self::from_toml_str(&text, &path.display().to_string(), base)
    }

    /// Parses and validates TOML text ([`Self::parse_str`]), then runs the preflight: the
    /// checks that read files or start processes (custom shaders read and validated once,
    /// an avatar video's size and rate). `name` labels errors; `base` resolves relative paths.
    pub fn from_toml_str(text: &str, name: &str, base: &Path) -> Result<Self, JobError> {
        let mut job = Self::parse_str(text, name, base)?;
        crate::preflight::run(&mut job, name)?;
        job.validate_named(name)?;
        Ok(job)
    }

    /// Parses and validates TOML text without touching the file system or starting a process
    /// (paths are resolved against `base` but not opened): what the fuzzer runs, and the first
    /// half of [`Self::from_toml_str`].
    pub fn parse_str(text: &str, name: &str, base: &Path) -> Result<Self, JobError> {
        let mut job = parse_document(text).map_err(|mut e| {
            e.set_input(Some(text));
            JobError::Parse {
                path: name.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            }
        })?;
        job.audio = resolve(base, &job.audio);
        job.output = resolve(base, &job.output);
        for layer in &mut job.layers {
            for path in layer.paths_mut() {
                *path = resolve(base, path);
            }
        }
        job.validate_named(name)?;
        Ok(job)
    }

    /// [`Self::validate`], with a failure labelled by the job's `name`.
    pub(crate) fn validate_named(&self, name: &str) -> Result<(), JobError> {
        self.validate().map_err(|e| match e {
            JobError::Invalid { what, message } => JobError::Parse {
                path: name.to_owned(),
                message: format!("{what}: {message}"),
            },
            other => other,
        })
    }

    /// Checks what deserialisation cannot: version, time range, paths.
    pub fn validate(&self) -> Result<(), JobError> {
        if self.version.0 != JOB_VERSION {
            return Err(invalid(
                "version",
                format!("only version {JOB_VERSION} exists, got {}", self.version.0),
            ));
        }
        if !(self.start.is_finite() && self.start >= 0.0) {
            return Err(invalid(
                "start",
                format!("must be a number of seconds >= 0, got {}", self.start),
            ));
        }
        if let Some(d) = self.duration
            && !(d.is_finite() && d > 0.0)
        {
            return Err(invalid(
                "duration",
                format!("must be a number of seconds > 0, got {d}"),
            ));
        }
        self.video
            .check_encoder()
            .map_err(|m| invalid("video", m))?;
        if self.analysis.min_hz.0 >= self.analysis.max_hz.0 {
            return Err(invalid(
                "analysis",
                format!(
                    "min_hz ({}) must be below max_hz ({})",
                    self.analysis.min_hz.0, self.analysis.max_hz.0
                ),
            ));
        }
        if self.audio.as_os_str().is_empty() {
            return Err(invalid("audio", "give the path of an audio file"));
        }
        if self.output.as_os_str().is_empty() || self.output.file_name().is_none() {
            return Err(invalid(
                "output",
                format!("\"{}\" is not a file path", self.output.display()),
            ));
        }
        Ok(())
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || p.as_os_str().is_empty() {
        p.to_owned()
    } else {
        base.join(p)
    }
}
