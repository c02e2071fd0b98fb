//! `[video]`: output size (width/height, or an aspect preset with a size), frame rate, and
//! the encoder with its settings (x264 preset and quality; NVENC codec, preset, rate control,
//! bit rate, IDR interval), each checked while deserialising.

use std::fmt;

use serde::Deserialize;

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

/// The output file's format (`[video] format`): by the output's extension by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    /// `.webm` VP9, `.mov` ProRes 4444, `.gif`, `.png`/`.apng` animated PNG, anything else MP4.
    #[default]
    Auto,
    /// H.264 (or HEVC with NVENC) and AAC in MP4.
    Mp4,
    /// VP9 and Opus in WebM.
    Webm,
    /// AV1 (libsvtav1 or libaom-av1) and Opus in WebM.
    #[serde(rename = "webm-av1")]
    WebmAv1,
    /// An animated GIF (no sound): for short previews.
    Gif,
    /// An animated PNG (no sound): for short previews.
    Apng,
    /// ProRes 4444 and PCM in QuickTime MOV: for editors, with alpha over a transparent
    /// background.
    Mov,
}

/// What frames start from (`[video] background`) before the layers draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundChoice {
    /// Opaque black.
    #[default]
    Black,
    /// Transparent: the output keeps an alpha channel (MOV, WebM VP9, APNG, GIF), alpha 0
    /// where no layer draws.
    Transparent,
}

impl FormatChoice {
    /// The format for `output`: this one, or for `Auto` the one its extension names.
    pub fn resolve(self, output: &std::path::Path) -> FormatChoice {
        if self != Self::Auto {
            return self;
        }
        let ext = output
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("webm") => Self::Webm,
            Some("gif") => Self::Gif,
            Some("png" | "apng") => Self::Apng,
            Some("mov") => Self::Mov,
            _ => Self::Mp4,
        }
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
    format: FormatChoice,
    background: BackgroundChoice,
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
            format: d.format,
            background: d.background,
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
            format: raw.format,
            background: raw.background,
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
    /// The output file's format (by the output's extension by default).
    pub format: FormatChoice,
    /// Black, or transparent for outputs with an alpha channel.
    pub background: BackgroundChoice,
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
            format: FormatChoice::Auto,
            background: BackgroundChoice::Black,
        }
    }
}
