//! The streaming encoder sink: raw NV12 or RGBA frames (or an encoded stream) on an ffmpeg
//! child's stdin -> MP4, WebM, MOV, GIF or APNG.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;

use crate::MediaError;
use crate::process::{StderrTail, ffmpeg_program, format_fps, spawn_error, wait_with_usage};

/// Lines of ffmpeg's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 40;

/// Video codecs the ffmpeg sink can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoCodec {
    /// H.264 with libx264 (raw NV12 frames on stdin).
    X264,
    /// An H.264 Annex-B stream on stdin, already encoded (NVENC): muxed with `-c:v copy`.
    H264Stream,
    /// An HEVC Annex-B stream on stdin, already encoded (NVENC): muxed with `-c:v copy`.
    HevcStream,
    /// VP9 with libvpx in WebM, Opus audio (raw NV12 frames on stdin).
    Vp9,
    /// AV1 in WebM with the named ffmpeg encoder (`libsvtav1` or `libaom-av1`), Opus audio.
    Av1(&'static str),
    /// An animated GIF (a palette made for the whole clip, ordered dithering), no audio.
    Gif,
    /// An animated PNG (lossless RGB, or RGBA with alpha), no audio.
    Apng,
    /// ProRes 4444 (prores_ks, 10-bit 4:4:4, with a 16-bit alpha plane when the frames have
    /// alpha) in QuickTime MOV, PCM audio: for editors and overlays.
    ProRes,
}

/// The raw frames ffmpeg reads on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawFrames {
    /// BT.709 limited-range NV12, as the GPU converts it.
    #[default]
    Nv12,
    /// sRGB-encoded RGBA8 with straight alpha.
    Rgba,
}

impl RawFrames {
    /// Bytes of one `width` x `height` frame.
    pub fn frame_bytes(self, width: u32, height: u32) -> usize {
        let pixels = width as usize * height as usize;
        match self {
            Self::Nv12 => pixels * 3 / 2,
            Self::Rgba => pixels * 4,
        }
    }
}

impl VideoCodec {
    /// True for the codecs that take an encoded stream rather than raw frames.
    pub fn is_stream(self) -> bool {
        matches!(self, Self::H264Stream | Self::HevcStream)
    }

    /// The container ffmpeg writes: `mp4`, `webm`, `mov`, `gif` or `apng`.
    pub fn container(self) -> &'static str {
        match self {
            Self::X264 | Self::H264Stream | Self::HevcStream => "mp4",
            Self::Vp9 | Self::Av1(_) => "webm",
            Self::ProRes => "mov",
            Self::Gif => "gif",
            Self::Apng => "apng",
        }
    }

    /// True for the codecs that can keep an alpha channel (given RGBA frames).
    pub fn has_alpha(self) -> bool {
        matches!(self, Self::Vp9 | Self::ProRes | Self::Gif | Self::Apng)
    }

    /// False for the picture formats, which carry no sound (and no chapters).
    pub fn has_audio(self) -> bool {
        !matches!(self, Self::Gif | Self::Apng)
    }
}

/// The section of an audio file to mux as the video's sound track.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInput {
    pub path: PathBuf,
    /// Seconds into the file where the video starts.
    pub start: f64,
    /// Seconds of audio to use.
    pub duration: f64,
    /// An ffmpeg audio filter chain applied before encoding (e.g. loudness normalisation);
    /// its output is resampled to 48 kHz.
    pub filter: Option<String>,
}

impl AudioInput {
    /// ffmpeg arguments for the filter, if any.
    pub(crate) fn filter_args(&self) -> Vec<String> {
        match &self.filter {
            Some(f) => vec!["-af".into(), f.clone(), "-ar".into(), "48000".into()],
            None => Vec::new(),
        }
    }
}

/// Everything ffmpeg needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub codec: VideoCodec,
    /// What the raw frames on stdin are (ignored for encoded streams).
    pub frames: RawFrames,
    /// Keep the frames' alpha channel (RGBA frames into a codec that has one).
    pub alpha: bool,
    /// x264 constant rate factor (0..=51, lower is better).
    pub crf: u8,
    /// x264 preset: ultrafast .. placebo.
    pub preset: String,
    pub audio: Option<AudioInput>,
    /// AAC bit rate in kbit/s.
    pub audio_kbps: u32,
    /// Final MP4 path. Written as a temporary file beside it, renamed on success.
    pub output: PathBuf,
    /// Written as the MP4's `comment` tag (segments carry their identity in it).
    pub comment: Option<String>,
    /// Chapter marks written into the MP4 (none: no chapters).
    pub chapters: Vec<crate::ChapterMark>,
}

/// x264's presets, fastest first.
pub const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

impl EncoderSettings {
    fn validate(&self) -> Result<(), MediaError> {
        if self.width == 0
            || self.height == 0
            || !self.width.is_multiple_of(2)
            || !self.height.is_multiple_of(2)
        {
            return Err(MediaError::Config(format!(
                "frame size {}x{} must be even and non-zero for 4:2:0 video",
                self.width, self.height
            )));
        }
        if !(self.fps.is_finite() && self.fps > 0.0) {
            return Err(MediaError::Config(format!(
                "fps {} must be positive",
                self.fps
            )));
        }
        if self.alpha && !(self.frames == RawFrames::Rgba && self.codec.has_alpha()) {
            return Err(MediaError::Config(format!(
                "an alpha channel needs RGBA frames and a codec that keeps alpha (VP9, ProRes, \
                 GIF, APNG); got {:?} frames for {:?}",
                self.frames, self.codec
            )));
        }
        if self.codec.is_stream() {
            // crf and preset belong to x264; an encoded stream is copied as it is.
            return Ok(());
        }
        if self.codec != VideoCodec::X264 {
            return Ok(());
        }
        if self.crf > 51 {
            return Err(MediaError::Config(format!(
                "quality (CRF) {} is out of range 0..=51",
                self.crf
            )));
        }
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return Err(MediaError::Config(format!(
                "preset \"{}\" is not one of {}",
                self.preset,
                X264_PRESETS.join(", ")
            )));
        }
        Ok(())
    }

    /// The ffmpeg command line (without the program name) writing to `temp`.
    pub fn args(&self, temp: &Path) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
        push(&["-hide_banner", "-nostdin", "-loglevel", "warning", "-y"]);
        let size = format!("{}x{}", self.width, self.height);
        let fps = format_fps(self.fps);
        match self.codec {
            VideoCodec::X264
            | VideoCodec::Vp9
            | VideoCodec::Av1(_)
            | VideoCodec::ProRes
            | VideoCodec::Gif
            | VideoCodec::Apng => push(&[
                "-f",
                "rawvideo",
                "-pix_fmt",
                match self.frames {
                    RawFrames::Nv12 => "nv12",
                    RawFrames::Rgba => "rgba",
                },
                "-video_size",
                &size,
                "-framerate",
                &fps,
                "-i",
                "pipe:0",
            ]),
            // A raw Annex-B stream has no timestamps. `-r` on the input sets them on the
            // frame grid (`-framerate` would leave the raw demuxer's 1/1200000 time base and
            // an average rate a hair off the frame rate).
            VideoCodec::H264Stream | VideoCodec::HevcStream => push(&[
                "-f",
                if self.codec == VideoCodec::H264Stream {
                    "h264"
                } else {
                    "hevc"
                },
                "-r",
                &fps,
                "-i",
                "pipe:0",
            ]),
        }
        let audio = self.audio.as_ref().filter(|_| self.codec.has_audio());
        let chapters = if self.codec.has_audio() {
            &self.chapters[..]
        } else {
            &[]
        };
        if let Some(audio) = audio {
            let start = format!("{:.6}", audio.start);
            let duration = format!("{:.6}", audio.duration);
            push(&["-ss", &start, "-t", &duration, "-i"]);
            a.push(audio.path.to_string_lossy().into_owned());
        }
        if !chapters.is_empty() {
            a.extend(["-f".into(), "ffmetadata".into(), "-i".into()]);
            a.push(
                crate::chapters::path_for(temp)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
        push(&["-map", "0:v:0"]);
        if audio.is_some() {
            push(&["-map", "1:a:0"]);
        }
        if !chapters.is_empty() {
            let input = 1 + usize::from(audio.is_some());
            push(&["-map_chapters", &input.to_string()]);
        }
        let crf = self.crf.to_string();
        if self.frames == RawFrames::Rgba
            && !matches!(self.codec, VideoCodec::Gif | VideoCodec::Apng)
        {
            // RGB to BT.709 limited-range YUV on ffmpeg's side, the frames labelled so (the
            // `-colorspace` options below alone leave ProRes in MOV untagged).
            push(&[
                "-vf",
                "scale=out_color_matrix=bt709:out_range=tv,setparams=range=tv:colorspace=bt709:\
                 color_primaries=bt709:color_trc=bt709",
            ]);
        }
        let yuv420 = if self.alpha { "yuva420p" } else { "yuv420p" };
        match self.codec {
            // NV12 goes to libx264 as is (it encodes NV12 natively): no CPU-side conversion.
            VideoCodec::X264 => push(&[
                "-c:v",
                "libx264",
                "-preset",
                &self.preset,
                "-crf",
                &self.crf.to_string(),
            ]),
            // The stream carries its own BT.709 VUI; the tags below label the MP4 track.
            VideoCodec::H264Stream => push(&["-c:v", "copy"]),
            // `hvc1` is the sample entry QuickTime/Safari need for HEVC in MP4.
            VideoCodec::HevcStream => push(&["-c:v", "copy", "-tag:v", "hvc1"]),
            // Constant quality: -crf with a zero bit rate; row threads, the "good" deadline.
            // With alpha, libvpx encodes the alpha plane as a second stream that WebM carries
            // beside the colour (Chromium and Firefox composite it).
            VideoCodec::Vp9 => push(&[
                "-c:v",
                "libvpx-vp9",
                "-pix_fmt",
                yuv420,
                "-crf",
                &crf,
                "-b:v",
                "0",
                "-row-mt",
                "1",
                "-deadline",
                "good",
                "-cpu-used",
                "4",
            ]),
            VideoCodec::Av1("libsvtav1") => push(&[
                "-c:v",
                "libsvtav1",
                "-pix_fmt",
                "yuv420p",
                "-crf",
                &crf,
                "-preset",
                "8",
            ]),
            VideoCodec::Av1(encoder) => push(&[
                "-c:v",
                encoder,
                "-pix_fmt",
                "yuv420p",
                "-crf",
                &crf,
                "-b:v",
                "0",
                "-cpu-used",
                "6",
                "-row-mt",
                "1",
            ]),
            // One palette for the whole clip, changes weighted; ordered dithering keeps
            // gradients from crawling. With alpha, one entry is transparent: pixels under half
            // opacity.
            VideoCodec::Gif => push(&[
                "-filter_complex",
                if self.alpha {
                    "[0:v]split[a][b];[a]palettegen=stats_mode=diff:reserve_transparent=1[p];\
                     [b][p]paletteuse=dither=bayer:bayer_scale=3:alpha_threshold=128"
                } else {
                    "[0:v]split[a][b];[a]palettegen=stats_mode=diff:reserve_transparent=0[p];\
                     [b][p]paletteuse=dither=bayer:bayer_scale=3"
                },
                "-loop",
                "0",
            ]),
            VideoCodec::Apng => push(&[
                "-c:v",
                "apng",
                "-pix_fmt",
                if self.alpha { "rgba" } else { "rgb24" },
                "-plays",
                "0",
            ]),
            // Profile 4444 (4:4:4 10-bit, plus alpha where kept); `apl0` as Apple's encoder
            // writes it, which some editors check.
            VideoCodec::ProRes => push(&[
                "-c:v",
                "prores_ks",
                "-profile:v",
                "4444",
                "-vendor",
                "apl0",
                "-pix_fmt",
                if self.alpha {
                    "yuva444p10le"
                } else {
                    "yuv444p10le"
                },
            ]),
        }
        if self.codec.has_audio() {
            push(&[
                "-color_range",
                "tv",
                "-colorspace",
                "bt709",
                "-color_primaries",
                "bt709",
                "-color_trc",
                "bt709",
            ]);
        }
        if let Some(audio) = audio {
            let kbps = format!("{}k", self.audio_kbps);
            let filter = audio.filter_args();
            push(&filter.iter().map(String::as_str).collect::<Vec<_>>());
            if self.codec.container() == "webm" {
                // Opus runs at 48 kHz (also when the filter left another rate).
                push(&["-c:a", "libopus", "-b:a", &kbps, "-ar", "48000"]);
            } else if self.codec == VideoCodec::ProRes {
                // Editors take uncompressed PCM in MOV without a decode step.
                push(&["-c:a", "pcm_s24le"]);
            } else {
                push(&["-c:a", "aac", "-b:a", &kbps]);
            }
        }
        if let Some(comment) = &self.comment {
            push(&["-metadata", &format!("comment={comment}")]);
        }
        match self.codec.container() {
            "mp4" => push(&["-movflags", "+faststart", "-f", "mp4"]),
            other => push(&["-f", other]),
        }
        a.push(temp.to_string_lossy().into_owned());
        a
    }
}

/// What the finished encode reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeStats {
    pub frames: u64,
    /// Peak resident memory of the ffmpeg process, bytes.
    pub ffmpeg_peak_rss: u64,
}

/// A running ffmpeg encode. Dropping it without [`FfmpegEncoder::finish`] kills ffmpeg and
/// removes the temporary file: no orphan process, no partial output.
#[derive(Debug)]
pub struct FfmpegEncoder {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stderr_thread: Option<JoinHandle<()>>,
    tail: StderrTail,
    temp: PathBuf,
    output: PathBuf,
    frame_bytes: usize,
    frames: u64,
}

/// The temporary path beside `output` (same folder, so the final rename is atomic).
pub fn temp_path_for(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    output.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

impl FfmpegEncoder {
    /// Checks the output folder, then starts ffmpeg.
    pub fn spawn(settings: &EncoderSettings) -> Result<Self, MediaError> {
        settings.validate()?;
        let output = &settings.output;
        let dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(MediaError::OutputDirMissing { dir });
        }
        let temp = temp_path_for(output);
        // Create the file ourselves first: a permission problem becomes a clear error here
        // rather than a line in ffmpeg's log.
        File::create(&temp).map_err(|source| MediaError::OutputNotWritable {
            path: temp.clone(),
            source,
        })?;
        if let Err(e) = crate::chapters::write(&temp, &settings.chapters) {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        let program = ffmpeg_program();
        let spawned = Command::new(&program)
            .args(settings.args(&temp))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                let _ = std::fs::remove_file(crate::chapters::path_for(&temp));
                return Err(spawn_error(&program, e));
            }
        };
        log::debug!(
            "started {program} (pid {}) writing {}",
            child.id(),
            temp.display()
        );
        let tail = StderrTail::new(STDERR_TAIL_LINES);
        let stderr_thread = child
            .stderr
            .take()
            .map(|stderr| tail.spawn_reader("ffmpeg-stderr", "ffmpeg", stderr));
        let stderr_thread = match stderr_thread.transpose() {
            Ok(t) => t,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(&temp);
                return Err(MediaError::Spawn { program, source: e });
            }
        };
        Ok(Self {
            stdin: child.stdin.take(),
            child: Some(child),
            stderr_thread,
            tail,
            temp,
            output: output.clone(),
            frame_bytes: settings.frames.frame_bytes(settings.width, settings.height),
            frames: 0,
        })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes encoded Annex-B bytes holding `frames` whole frames (for
    /// [`VideoCodec::H264Stream`] / [`VideoCodec::HevcStream`]). Errors as [`Self::write_frame`].
    pub fn write_encoded(&mut self, bytes: &[u8], frames: u64) -> Result<(), MediaError> {
        if self.frames.is_multiple_of(32) && self.frames > 0 && !self.temp.exists() {
            return Err(MediaError::OutputVanished {
                path: self.output.clone(),
            });
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.died());
        };
        match stdin.write_all(bytes) {
            Ok(()) => {
                self.frames += frames;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(self.died()),
            Err(source) => Err(MediaError::Write {
                frame: self.frames,
                source,
            }),
        }
    }

    /// Writes one tightly packed frame (NV12 or RGBA, as [`EncoderSettings::frames`]). If ffmpeg has died, returns its exit status and
    /// last stderr lines (within the time it takes the pipe to report the broken end).
    pub fn write_frame(&mut self, frame: &[u8]) -> Result<(), MediaError> {
        if frame.len() != self.frame_bytes {
            return Err(MediaError::Config(format!(
                "frame {} has {} bytes, expected {}",
                self.frames,
                frame.len(),
                self.frame_bytes
            )));
        }
        // Notice early when the output folder (or the temporary file) was removed: ffmpeg would
        // go on writing into an unlinked file and the render would only fail at the end.
        if self.frames.is_multiple_of(32) && self.frames > 0 && !self.temp.exists() {
            return Err(MediaError::OutputVanished {
                path: self.output.clone(),
            });
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.died());
        };
        match stdin.write_all(frame) {
            Ok(()) => {
                self.frames += 1;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(self.died()),
            Err(source) => Err(MediaError::Write {
                frame: self.frames,
                source,
            }),
        }
    }

    /// Reaps a dead (or dying) ffmpeg and describes what happened.
    fn died(&mut self) -> MediaError {
        self.stdin = None;
        let status = match self.child.take() {
            Some(mut child) => {
                let _ = child.kill();
                match wait_with_usage(child.id()) {
                    Ok((s, _)) => s.to_string(),
                    Err(e) => format!("unknown status: {e}"),
                }
            }
            None => "already stopped".into(),
        };
        self.join_stderr();
        if !self.temp.exists() {
            return MediaError::OutputVanished {
                path: self.output.clone(),
            };
        }
        let stderr = self.stderr_tail();
        MediaError::EncoderDied {
            hint: hint(&status, &stderr, &self.output),
            status,
            frames: self.frames,
            stderr,
        }
    }

    fn join_stderr(&mut self) {
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
    }

    /// ffmpeg's last stderr lines.
    pub fn stderr_tail(&self) -> String {
        self.tail.text()
    }

    /// Closes ffmpeg's input, waits for it, and moves the MP4 into place.
    pub fn finish(mut self) -> Result<EncodeStats, MediaError> {
        self.stdin = None;
        let Some(child) = self.child.take() else {
            return Err(self.died());
        };
        let waited = wait_with_usage(child.id());
        self.join_stderr();
        let (status, usage) = waited.map_err(|e| MediaError::EncoderFailed {
            status: format!("wait failed: {e}"),
            hint: String::new(),
            stderr: self.stderr_tail(),
        })?;
        if !status.success() {
            if !self.temp.exists() {
                return Err(MediaError::OutputVanished {
                    path: self.output.clone(),
                });
            }
            let (status, stderr) = (status.to_string(), self.stderr_tail());
            return Err(MediaError::EncoderFailed {
                hint: hint(&status, &stderr, &self.output),
                status,
                stderr,
            });
        }
        std::fs::rename(&self.temp, &self.output).map_err(|source| MediaError::Rename {
            path: self.output.clone(),
            source,
        })?;
        Ok(EncodeStats {
            frames: self.frames,
            ffmpeg_peak_rss: usage.peak_rss,
        })
    }
}

impl Drop for FfmpegEncoder {
    fn drop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_stderr();
        // After a successful finish the temp file was renamed away; otherwise remove it.
        let _ = std::fs::remove_file(&self.temp);
        let _ = std::fs::remove_file(crate::chapters::path_for(&self.temp));
    }
}

/// A known cause of an ffmpeg failure, from its exit status and last lines.
fn hint(status: &str, stderr: &str, output: &Path) -> String {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if stderr.contains("No space left on device") {
        format!(
            ": the disk holding {} is full; free space or choose another output folder",
            dir.display()
        )
    } else if status.contains("SIGXFSZ") || stderr.contains("File too large") {
        ": the output reached the file-size limit (ulimit -f) of this process; raise it or \
         write somewhere else"
            .to_owned()
    } else if stderr.contains("Permission denied") {
        format!(": no permission to write in {}", dir.display())
    } else if status.contains("SIGKILL") {
        ": it was killed (out of memory, or by another process)".to_owned()
    } else {
        String::new()
    }
}
