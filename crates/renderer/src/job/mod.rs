//! The job file (`job.toml`, version 1): what to render, validated on load.
//!
//! Every value is checked while the TOML is deserialised, so a bad value is reported with the
//! line and column where it stands. Relative paths resolve against the job file's folder.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod analysis;
pub mod chapters;
mod video;

pub use analysis::{
    AnalysisSettings, BandCount, FallRate, FloorDb, Hz, Millis, Percentile, Scale, Tilt,
};
pub use chapters::Chapter;
// Every layer table and its value types (the kinds' own modules export them).
pub use crate::layers::*;
pub use video::{
    Aspect, BackgroundChoice, Bitrate, CodecChoice, Crf, Dimension, EncoderChoice, FormatChoice,
    Fps, Keyint, NvencPreset, Preset, RateControlChoice, VideoSettings,
};

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

/// An integrated loudness target in LUFS, -70..=-5 (EBU R128: -23; streaming and podcasts:
/// -14 to -16).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Lufs(pub f64);

impl TryFrom<f64> for Lufs {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (-70.0..=-5.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!(
                "loudness must be a target in LUFS between -70 and -5 (e.g. -16), got {v}"
            ))
        }
    }
}

/// A true-peak ceiling in dBTP, -9..=0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct TruePeak(pub f64);

impl TryFrom<f64> for TruePeak {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (-9.0..=0.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(format!(
                "true_peak must be a ceiling in dBTP between -9 and 0 (e.g. -1), got {v}"
            ))
        }
    }
}

impl Default for TruePeak {
    fn default() -> Self {
        Self(-1.0)
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
    /// Normalise the output's audio to this integrated loudness (off when `None`).
    pub loudness: Option<Lufs>,
    /// The true-peak ceiling of a normalised audio track.
    pub true_peak: TruePeak,
    /// Chapters (`[[chapter]]`, or read from `chapters_file` by the preflight), by start.
    pub chapters: Vec<Chapter>,
    /// A chapters file (`chapters = "chapters.txt"`: lines such as `0:00 Intro`).
    pub chapters_file: Option<PathBuf>,
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
    loudness: Option<Lufs>,
    #[serde(default)]
    true_peak: TruePeak,
    #[serde(default)]
    chapter: Vec<Chapter>,
    #[serde(default)]
    chapters: Option<PathBuf>,
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
        loudness: head.loudness,
        true_peak: head.true_peak,
        chapters: head.chapter,
        chapters_file: head.chapters,
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
            loudness: None,
            true_peak: TruePeak::default(),
            chapters: Vec::new(),
            chapters_file: None,
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
        if let Some(c) = &job.chapters_file {
            job.chapters_file = Some(resolve(base, c));
        }
        if job.chapters_file.is_some() && !job.chapters.is_empty() {
            return Err(JobError::Parse {
                path: name.to_owned(),
                message: "chapters: give either [[chapter]] tables or a chapters file, not both"
                    .into(),
            });
        }
        chapters::check(&mut job.chapters).map_err(|message| JobError::Parse {
            path: name.to_owned(),
            message: format!("[[chapter]]: {message}"),
        })?;
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

    /// Every file the job reads (audio, chapters file, the layers' images, fonts, shaders,
    /// transcripts, videos), as resolved against the job's folder.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.audio.clone()];
        files.extend(self.chapters_file.clone());
        files.extend(self.layers.iter().flat_map(Layer::files));
        files.retain(|f| !f.as_os_str().is_empty());
        files
    }

    /// Multiplies the frame size by `factor` (to even sizes of at least 16 px); lengths in a job
    /// are given at 1080p and scale with the frame, so the picture looks the same, smaller.
    pub fn scale(&mut self, factor: f64) -> Result<(), String> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(format!("must be a positive number, got {factor}"));
        }
        let even = |v: u32| ((f64::from(v) * factor / 2.0).round() * 2.0).max(16.0);
        let width = Dimension::try_from(even(self.video.width.0))?;
        let height = Dimension::try_from(even(self.video.height.0))?;
        self.video.width = width;
        self.video.height = height;
        Ok(())
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

impl Layer {
    /// The files this layer reads (images, fonts, shaders, transcripts, videos), as given or
    /// as resolved against the job's folder; unset ones are empty paths.
    pub fn files(&self) -> Vec<PathBuf> {
        // The per-kind list is the one that resolves relative paths (`paths_mut`), on a copy.
        let mut copy = self.clone();
        copy.paths_mut().into_iter().map(|p| p.clone()).collect()
    }
}
