//! Video (and still image) files as a stream of RGBA frames, for background and image layers.
//!
//! [`probe_video`] asks ffprobe for a file's size, duration and frame rate. [`VideoFrames`]
//! starts an `ffmpeg` child that decodes the file, converts it to the requested frame rate and
//! size and writes raw RGBA8 frames (straight alpha, sRGB-encoded as ffmpeg's RGB conversion
//! gives them) to its stdout. A reader thread cuts that stream into whole frames and hands them
//! over through a channel of two frames; the consumer's used buffers travel back to the reader,
//! so a handful of frame buffers exist whatever the clip's length: the clip is never held in
//! memory. With `looped` the file restarts from its beginning when it ends (`-stream_loop -1`),
//! so a short clip covers any audio length.
//!
//! Still images (PNG, JPEG) work too: [`probe_video`] reports them with no duration and no
//! frame rate, and a looped stream repeats the image. Such a stream decodes the image again for
//! every repetition, so a caller that only needs the picture once should read one frame and
//! keep it.
//!
//! Dropping a [`VideoFrames`] kills and reaps ffmpeg and joins its threads, at any point of the
//! stream.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::MediaError;
use crate::process::{ffmpeg_program, ffprobe_program, spawn_error};

/// Lines of ffmpeg's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;

/// Decoded frames waiting in the channel between the reader thread and the consumer.
const FRAMES_IN_FLIGHT: usize = 2;

/// Largest frame side accepted, in pixels.
const MAX_SIDE: u32 = 16384;

/// Highest frame rate accepted.
const MAX_FPS: f64 = 1000.0;

/// What ffprobe says about a video or image file (its first video stream).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Seconds; `None` when the file does not say (still images).
    pub duration: Option<f64>,
    /// Frames per second (the average rate, else the nominal one); `None` for still images and
    /// when the file does not say.
    pub fps: Option<f64>,
}

impl VideoInfo {
    /// Whether this is a single picture rather than a clip (no duration, or a zero one).
    pub fn is_still(&self) -> bool {
        self.duration.is_none_or(|d| d <= 0.0)
    }
}

/// Probes `path` with ffprobe. Works for videos and for still images (PNG, JPEG, ...).
///
/// Errors name the file: missing file, unreadable or unknown format, no video stream, or
/// ffprobe itself missing (with how to install it).
pub fn probe_video(path: &Path) -> Result<VideoInfo, MediaError> {
    check_file(path)?;
    let program = ffprobe_program();
    let out = Command::new(&program)
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,avg_frame_rate,r_frame_rate:format=duration,format_name",
            "-of",
            "default=nw=1",
        ])
        .arg(input_arg(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                MediaError::FfprobeMissing {
                    program: program.clone(),
                }
            } else {
                MediaError::Spawn {
                    program: program.clone(),
                    source,
                }
            }
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(MediaError::VideoProbe {
            path: path.to_owned(),
            status: out.status.to_string(),
            stderr: last_lines(&stderr, STDERR_TAIL_LINES),
        });
    }
    parse_probe(path, &String::from_utf8_lossy(&out.stdout))
}

/// Reads ffprobe's `key=value` lines.
fn parse_probe(path: &Path, text: &str) -> Result<VideoInfo, MediaError> {
    let (mut width, mut height) = (0u32, 0u32);
    let (mut avg_rate, mut nominal_rate, mut duration) = (None, None, None);
    let mut format_name = "";
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        match key {
            "width" => width = value.parse().unwrap_or(0),
            "height" => height = value.parse().unwrap_or(0),
            "avg_frame_rate" => avg_rate = parse_rate(value),
            "r_frame_rate" => nominal_rate = parse_rate(value),
            "duration" => {
                duration = value
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d >= 0.0);
            }
            "format_name" => format_name = value,
            _ => {}
        }
    }
    if width == 0 || height == 0 {
        return Err(MediaError::NoVideoStream {
            path: path.to_owned(),
        });
    }
    // Single-image demuxers (png_pipe, jpeg_pipe, ...) report a made-up rate of 25.
    let still = duration.is_none() && format_name.ends_with("_pipe");
    Ok(VideoInfo {
        width,
        height,
        duration,
        fps: if still {
            None
        } else {
            avg_rate.or(nominal_rate)
        },
    })
}

/// `30000/1001` or `25` -> frames per second; `0/0` and nonsense -> `None`.
fn parse_rate(value: &str) -> Option<f64> {
    let rate = match value.split_once('/') {
        Some((num, den)) => num.trim().parse::<f64>().ok()? / den.trim().parse::<f64>().ok()?,
        None => value.trim().parse::<f64>().ok()?,
    };
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

/// How to decode a video into frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoFrameOptions {
    /// Frame size delivered; the video is scaled to exactly this (the caller keeps the aspect).
    pub width: u32,
    pub height: u32,
    /// Frames per second delivered (frames are dropped or repeated to get it).
    pub fps: f64,
    /// Seconds into the clip of the first frame. With `looped` it is taken modulo the clip's
    /// duration (probed with ffprobe), so any point of the audio's timeline can be passed.
    pub start: f64,
    /// Restart the clip whenever it ends, forever; otherwise the stream ends with the clip.
    pub looped: bool,
}

impl VideoFrameOptions {
    fn validate(&self) -> Result<(), MediaError> {
        if !(1..=MAX_SIDE).contains(&self.width) || !(1..=MAX_SIDE).contains(&self.height) {
            return Err(MediaError::VideoConfig(format!(
                "frame size {}x{} must be 1..={MAX_SIDE} on each side",
                self.width, self.height
            )));
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= MAX_FPS) {
            return Err(MediaError::VideoConfig(format!(
                "fps {} must be positive and at most {MAX_FPS}",
                self.fps
            )));
        }
        if !(self.start.is_finite() && self.start >= 0.0) {
            return Err(MediaError::VideoConfig(format!(
                "start {} must be zero or a positive number of seconds",
                self.start
            )));
        }
        Ok(())
    }

    /// Bytes in one RGBA8 frame.
    pub fn frame_len(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }
}

/// The ffmpeg command line (without the program name) decoding `path` from `start` seconds.
fn ffmpeg_args(path: &Path, opts: &VideoFrameOptions, start: f64) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&["-nostdin", "-v", "error"]);
    if start > 0.0 {
        // Before -i: a fast seek (to the keyframe before, then decoding up to the point).
        push(&["-ss", &format!("{start:.6}")]);
    }
    if opts.looped {
        push(&["-stream_loop", "-1"]);
    }
    push(&["-i"]);
    a.push(input_arg(path));
    // eof_action=pass: a lone still image (not looped) still yields its one frame.
    let filter = format!(
        "fps={}:eof_action=pass,scale={}:{}:flags=bicubic,format=rgba",
        format_fps(opts.fps),
        opts.width,
        opts.height
    );
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    push(&[
        "-map", "0:v:0", "-vf", &filter, "-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1",
    ]);
    a
}

/// `file:PATH`, so that a path with a colon is never taken for a protocol (`http:`, `pipe:`).
fn input_arg(path: &Path) -> OsString {
    let mut arg = OsString::from("file:");
    arg.push(path.as_os_str());
    arg
}

/// `30` for whole numbers, else enough decimals for ffmpeg to get the rate right.
fn format_fps(fps: f64) -> String {
    if fps.fract() == 0.0 {
        format!("{}", fps as u64)
    } else {
        format!("{fps:.6}")
    }
}

fn check_file(path: &Path) -> Result<(), MediaError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(MediaError::VideoMissing {
            path: path.to_owned(),
        })
    }
}

/// What the reader thread sends.
#[derive(Debug)]
enum ReaderMsg {
    /// One whole frame.
    Frame(Vec<u8>),
    /// ffmpeg closed its stdout; `partial` bytes of an incomplete last frame were read.
    Eof { partial: usize },
    /// Reading the pipe failed.
    ReadError(std::io::Error),
}

/// Where the stream stands.
#[derive(Debug)]
enum State {
    Running,
    /// The (unlooped) clip ended cleanly.
    Ended,
    /// It failed; the reason, repeated by later calls.
    Failed(String),
}

/// A running ffmpeg decode delivering RGBA8 frames one at a time; see the module docs.
#[derive(Debug)]
pub struct VideoFrames {
    path: PathBuf,
    looped: bool,
    frame_len: usize,
    child: Option<Child>,
    frames_rx: Option<Receiver<ReaderMsg>>,
    recycle_tx: Sender<Vec<u8>>,
    reader: Option<JoinHandle<()>>,
    stderr_thread: Option<JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    delivered: u64,
    state: State,
}

impl VideoFrames {
    /// Checks the options and the file, then starts ffmpeg. With `looped` and a non-zero
    /// `start`, the clip's duration is probed first (ffprobe) to take `start` modulo it.
    ///
    /// A file ffmpeg cannot decode is reported by the first [`VideoFrames::next_frame`].
    pub fn spawn(path: &Path, opts: &VideoFrameOptions) -> Result<Self, MediaError> {
        opts.validate()?;
        check_file(path)?;
        let start = if opts.looped && opts.start > 0.0 {
            match probe_video(path)?.duration {
                Some(d) if d > 0.0 => opts.start % d,
                _ => 0.0,
            }
        } else {
            opts.start
        };
        let program = ffmpeg_program();
        let mut child = Command::new(&program)
            .args(ffmpeg_args(path, opts, start))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error(&program, e))?;
        log::debug!(
            "started {program} (pid {}) decoding {} at {}x{} {} fps from {start:.3} s{}",
            child.id(),
            path.display(),
            opts.width,
            opts.height,
            opts.fps,
            if opts.looped { ", looped" } else { "" }
        );
        let frame_len = opts.frame_len();
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let (frames_tx, frames_rx) = mpsc::sync_channel(FRAMES_IN_FLIGHT);
        let (recycle_tx, recycle_rx) = mpsc::channel();
        let threads = (|| -> std::io::Result<_> {
            let stderr_thread = match child.stderr.take() {
                Some(stderr) => {
                    let tail = tail.clone();
                    Some(
                        std::thread::Builder::new()
                            .name("video-stderr".into())
                            .spawn(move || collect_stderr(stderr, &tail))?,
                    )
                }
                None => None,
            };
            let reader = match child.stdout.take() {
                Some(stdout) => Some(
                    std::thread::Builder::new()
                        .name("video-frames".into())
                        .spawn(move || read_frames(stdout, frame_len, &frames_tx, &recycle_rx))?,
                ),
                None => None,
            };
            Ok((stderr_thread, reader))
        })();
        // From here on, Drop cleans up whatever was started.
        let mut frames = Self {
            path: path.to_owned(),
            looped: opts.looped,
            frame_len,
            child: Some(child),
            frames_rx: Some(frames_rx),
            recycle_tx,
            reader: None,
            stderr_thread: None,
            tail,
            delivered: 0,
            state: State::Running,
        };
        match threads {
            Ok((stderr_thread, reader)) => {
                frames.stderr_thread = stderr_thread;
                frames.reader = reader;
                Ok(frames)
            }
            Err(source) => Err(MediaError::Spawn { program, source }),
        }
    }

    /// The file being decoded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in one frame (width * height * 4).
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Frames delivered so far.
    pub fn frames(&self) -> u64 {
        self.delivered
    }

    /// Waits for the next frame and puts it in `out` (exactly width * height * 4 bytes of
    /// RGBA8, rows top to bottom; `out`'s previous allocation is reused for later frames).
    /// `Ok(true)`: a frame was delivered. `Ok(false)`: an unlooped clip has ended.
    ///
    /// Errors name the file and give ffmpeg's last stderr lines: ffmpeg failed (an unreadable
    /// or corrupt file), or a looped stream stopped.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Result<bool, MediaError> {
        match &self.state {
            State::Running => {}
            State::Ended => return Ok(false),
            State::Failed(reason) => return Err(self.decode_error(reason.clone())),
        }
        let msg = match &self.frames_rx {
            Some(rx) => rx.recv().ok(),
            None => None,
        };
        let reason = match msg {
            Some(ReaderMsg::Frame(mut frame)) => {
                std::mem::swap(out, &mut frame);
                if frame.capacity() >= self.frame_len {
                    // The reader may be gone (stream ending): then the buffer is just freed.
                    let _ = self.recycle_tx.send(frame);
                }
                self.delivered += 1;
                return Ok(true);
            }
            Some(ReaderMsg::Eof { partial }) => self.end_of_stream(partial, None),
            Some(ReaderMsg::ReadError(e)) => self.end_of_stream(0, Some(e.to_string())),
            None => self.end_of_stream(0, Some("the frame reader thread stopped".into())),
        };
        match reason {
            None => {
                self.state = State::Ended;
                Ok(false)
            }
            Some(reason) => {
                self.state = State::Failed(reason.clone());
                Err(self.decode_error(reason))
            }
        }
    }

    /// Reaps ffmpeg after its output ended (or could not be read) and says what went wrong,
    /// if anything.
    fn end_of_stream(&mut self, partial: usize, read_error: Option<String>) -> Option<String> {
        self.frames_rx = None;
        let status: Result<Option<ExitStatus>, std::io::Error> = match self.child.take() {
            Some(mut child) => {
                // Nobody reads its output any more: a still running ffmpeg would block on it.
                if read_error.is_some() {
                    let _ = child.kill();
                }
                child.wait().map(Some)
            }
            None => Ok(None),
        };
        self.join_threads();
        let n = self.delivered;
        if let Some(e) = read_error {
            return Some(format!(
                "reading ffmpeg's frames failed after {n} frames: {e}"
            ));
        }
        match status {
            Err(e) => return Some(format!("waiting for ffmpeg failed after {n} frames: {e}")),
            Ok(Some(s)) if !s.success() => {
                return Some(format!("ffmpeg failed ({s}) after {n} frames"));
            }
            Ok(_) => {}
        }
        if partial > 0 {
            return Some(format!(
                "ffmpeg's output stopped in the middle of frame {n} ({partial} of {} bytes)",
                self.frame_len
            ));
        }
        if self.looped {
            return Some(format!(
                "ffmpeg stopped after {n} frames although the video should loop forever"
            ));
        }
        None
    }

    fn decode_error(&self, reason: String) -> MediaError {
        let stderr = self
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        MediaError::VideoDecode {
            path: self.path.clone(),
            reason,
            stderr: if stderr.is_empty() {
                "(none)".into()
            } else {
                stderr
            },
        }
    }

    fn join_threads(&mut self) {
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for VideoFrames {
    fn drop(&mut self) {
        // Closing the receiver frees a reader blocked on the full channel; killing ffmpeg
        // ends a reader blocked on the pipe, and the stderr thread.
        self.frames_rx = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_threads();
    }
}

/// Reads whole frames from ffmpeg's stdout until it ends or the consumer is gone. Buffers come
/// back from the consumer through `recycle`; a new one is allocated only when none is there.
fn read_frames(
    mut stdout: ChildStdout,
    frame_len: usize,
    frames: &SyncSender<ReaderMsg>,
    recycle: &Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = recycle.try_recv().unwrap_or_default();
        buf.resize(frame_len, 0);
        let msg = match read_full(&mut stdout, &mut buf) {
            Ok(n) if n == frame_len => ReaderMsg::Frame(buf),
            Ok(partial) => ReaderMsg::Eof { partial },
            Err(e) => ReaderMsg::ReadError(e),
        };
        let last = !matches!(msg, ReaderMsg::Frame(_));
        if frames.send(msg).is_err() || last {
            return;
        }
    }
}

/// Fills `buf` unless the stream ends first; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Keeps ffmpeg's last stderr lines (and logs each at debug level).
fn collect_stderr(mut stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    let keep = |line: &[u8]| {
        let line = String::from_utf8_lossy(line).trim().to_owned();
        if line.is_empty() {
            return;
        }
        log::debug!("ffmpeg (video): {line}");
        if let Ok(mut t) = tail.lock() {
            if t.len() == STDERR_TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    };
    loop {
        let n = match stderr.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for &b in &buf[..n] {
            if b == b'\n' || b == b'\r' {
                keep(&text);
                text.clear();
            } else {
                text.push(b);
            }
        }
    }
    keep(&text);
}

/// The last `n` non-empty lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(n)..].join("\n");
    if tail.is_empty() {
        "(ffprobe printed nothing)".into()
    } else {
        tail
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};
    use test_support::Scratch;

    /// Whether ffmpeg and ffprobe can be run. Missing: a visible skip, or a failure under CI.
    fn have_ffmpeg() -> bool {
        test_support::require_ffmpeg("media video tests")
    }

    /// Runs ffmpeg to make a fixture.
    fn ffmpeg(args: &[&str], out: &Path) {
        let status = Command::new(ffmpeg_program())
            .args(["-nostdin", "-v", "error", "-y"])
            .args(args)
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success(), "making {} failed", out.display());
    }

    /// A 64x36, 1 s, 10 fps clip whose frame N has luma 20 + 20 N (losslessly coded), so
    /// brightness tells which frame came.
    fn counting_clip(dir: &Scratch) -> PathBuf {
        let path = dir.path("count.mp4");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "color=c=black:s=64x36:r=10:d=1,format=yuv420p,geq=lum='20+N*20':cb=128:cr=128",
                "-c:v",
                "libx264",
                "-qp",
                "0",
                "-pix_fmt",
                "yuv420p",
            ],
            &path,
        );
        path
    }

    fn opts(width: u32, height: u32, fps: f64, start: f64, looped: bool) -> VideoFrameOptions {
        VideoFrameOptions {
            width,
            height,
            fps,
            start,
            looped,
        }
    }

    /// Mean of the red channel.
    fn brightness(frame: &[u8]) -> f64 {
        let sum: u64 = frame.chunks_exact(4).map(|p| u64::from(p[0])).sum();
        sum as f64 / (frame.len() / 4) as f64
    }

    /// The brightness of the first `n` frames (fewer if the stream ends).
    fn read_brightness(frames: &mut VideoFrames, n: usize) -> Vec<f64> {
        let mut out = Vec::new();
        let mut levels = Vec::new();
        while levels.len() < n && frames.next_frame(&mut out).unwrap() {
            assert_eq!(out.len(), frames.frame_len());
            levels.push(brightness(&out));
        }
        levels
    }

    /// Frame N of the counting clip, as RGB brightness (limited-range luma 20 + 20 N).
    fn expected(n: usize) -> f64 {
        (20.0 + 20.0 * n as f64 - 16.0) * 255.0 / 219.0
    }

    fn assert_sequence(levels: &[f64], first: usize) {
        for (i, &b) in levels.iter().enumerate() {
            let want = expected((first + i) % 10);
            assert!(
                (b - want).abs() < 3.0,
                "frame {i}: brightness {b:.1}, expected {want:.1} (clip frame {}); all: {levels:.1?}",
                (first + i) % 10
            );
        }
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("25/1"), Some(25.0));
        assert!((parse_rate("30000/1001").unwrap() - 29.97).abs() < 1e-3);
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("24"), Some(24.0));
        assert_eq!(parse_rate("N/A"), None);
    }

    #[test]
    fn probe_output_parses() {
        let p = Path::new("a.mp4");
        let info = parse_probe(
            p,
            "width=1920\nheight=1080\nr_frame_rate=30000/1001\navg_frame_rate=0/0\n\
             format_name=mov,mp4,m4a,3gp,3g2,mj2\nduration=12.5\n",
        )
        .unwrap();
        assert_eq!((info.width, info.height), (1920, 1080));
        assert_eq!(info.duration, Some(12.5));
        assert!((info.fps.unwrap() - 29.97).abs() < 1e-3);
        assert!(!info.is_still());
        let still = parse_probe(
            p,
            "width=8\nheight=4\nr_frame_rate=25/1\navg_frame_rate=25/1\n\
             format_name=png_pipe\nduration=N/A\n",
        )
        .unwrap();
        assert_eq!((still.duration, still.fps), (None, None));
        assert!(still.is_still());
        let audio = parse_probe(p, "format_name=wav\nduration=3.0\n").unwrap_err();
        assert!(matches!(audio, MediaError::NoVideoStream { .. }), "{audio}");
    }

    #[test]
    fn ffmpeg_command_line() {
        let args = |o: &VideoFrameOptions, start: f64| -> Vec<String> {
            ffmpeg_args(Path::new("dir/a:b.mp4"), o, start)
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let looped = args(&opts(320, 180, 29.97, 0.0, true), 2.5);
        assert_eq!(
            looped.join(" "),
            "-nostdin -v error -ss 2.500000 -stream_loop -1 -i file:dir/a:b.mp4 -map 0:v:0 \
             -vf fps=29.970000:eof_action=pass,scale=320:180:flags=bicubic,format=rgba \
             -f rawvideo -pix_fmt rgba pipe:1"
        );
        let once = args(&opts(16, 8, 30.0, 0.0, false), 0.0).join(" ");
        assert!(
            !once.contains("-ss") && !once.contains("-stream_loop"),
            "{once}"
        );
        assert!(once.contains("fps=30:"), "{once}");
    }

    #[test]
    fn bad_options_are_refused_before_anything_runs() {
        let missing = Path::new("/nonexistent/clip.mp4");
        for bad in [
            opts(0, 10, 30.0, 0.0, true),
            opts(10, MAX_SIDE + 1, 30.0, 0.0, true),
            opts(10, 10, 0.0, 0.0, true),
            opts(10, 10, f64::NAN, 0.0, true),
            opts(10, 10, 30.0, -1.0, true),
            opts(10, 10, 30.0, f64::INFINITY, false),
        ] {
            let err = VideoFrames::spawn(missing, &bad).unwrap_err();
            assert!(matches!(err, MediaError::VideoConfig(_)), "{bad:?}: {err}");
        }
    }

    #[test]
    fn missing_file_is_named() {
        let path = Path::new("/nonexistent/dir/missing-clip.mp4");
        let err = probe_video(path).unwrap_err();
        assert!(matches!(err, MediaError::VideoMissing { .. }), "{err}");
        assert!(err.to_string().contains("missing-clip.mp4"), "{err}");
        let err = VideoFrames::spawn(path, &opts(16, 16, 10.0, 0.0, true)).unwrap_err();
        assert!(err.to_string().contains("missing-clip.mp4"), "{err}");
    }

    #[test]
    fn probe_reports_size_duration_and_rate() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("probe");
        let clip = counting_clip(&dir);
        let info = probe_video(&clip).unwrap();
        assert_eq!((info.width, info.height), (64, 36));
        assert!((info.duration.unwrap() - 1.0).abs() < 0.05, "{info:?}");
        assert!((info.fps.unwrap() - 10.0).abs() < 1e-6, "{info:?}");
        assert!(!info.is_still());
    }

    #[test]
    fn probe_handles_still_images() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("probe-still");
        for name in ["x.png", "x.jpg"] {
            let path = dir.path(name);
            ffmpeg(
                &["-f", "lavfi", "-i", "color=red:s=32x24", "-frames:v", "1"],
                &path,
            );
            let info = probe_video(&path).unwrap();
            assert_eq!((info.width, info.height), (32, 24), "{name}");
            assert!(info.is_still(), "{name}: {info:?}");
            assert_eq!(info.fps, None, "{name}");
        }
    }

    #[test]
    fn non_video_files_are_errors_naming_them() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("garbage");
        let garbage = dir.path("garbage.mp4");
        std::fs::write(&garbage, "this is not a video, just some text\n".repeat(50)).unwrap();
        let err = probe_video(&garbage).unwrap_err();
        assert!(matches!(err, MediaError::VideoProbe { .. }), "{err}");
        assert!(err.to_string().contains("garbage.mp4"), "{err}");

        let mut frames = VideoFrames::spawn(&garbage, &opts(16, 16, 10.0, 0.0, true)).unwrap();
        let mut out = Vec::new();
        let err = frames.next_frame(&mut out).unwrap_err();
        assert!(matches!(err, MediaError::VideoDecode { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("garbage.mp4") && text.contains("Invalid data"),
            "{text}"
        );
        // Later calls repeat the failure rather than pretending the clip ended.
        assert!(frames.next_frame(&mut out).is_err());

        let wav = dir.path("tone.wav");
        ffmpeg(&["-f", "lavfi", "-i", "sine=d=0.2"], &wav);
        let err = probe_video(&wav).unwrap_err();
        assert!(matches!(err, MediaError::NoVideoStream { .. }), "{err}");
        assert!(err.to_string().contains("tone.wav"), "{err}");
        let mut frames = VideoFrames::spawn(&wav, &opts(16, 16, 10.0, 0.0, false)).unwrap();
        let err = frames.next_frame(&mut out).unwrap_err();
        assert!(err.to_string().contains("tone.wav"), "{err}");
    }

    #[test]
    fn frames_come_in_order_and_the_loop_restarts() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("loop");
        let clip = counting_clip(&dir);
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, true)).unwrap();
        let levels = read_brightness(&mut frames, 25);
        assert_eq!(levels.len(), 25);
        assert!(
            levels[..10].windows(2).all(|w| w[1] > w[0] + 10.0),
            "{levels:.1?}"
        );
        assert!((levels[10] - levels[0]).abs() < 1.0, "{levels:.1?}");
        assert!((levels[20] - levels[0]).abs() < 1.0, "{levels:.1?}");
        assert_sequence(&levels, 0);
        assert_eq!(frames.frames(), 25);
    }

    #[test]
    fn frames_have_the_requested_size_and_straight_opaque_alpha() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("size");
        let clip = counting_clip(&dir);
        for (w, h) in [(32, 18), (101, 50), (64, 36)] {
            let mut frames = VideoFrames::spawn(&clip, &opts(w, h, 10.0, 0.0, false)).unwrap();
            let mut out = vec![7u8; 3];
            assert!(frames.next_frame(&mut out).unwrap());
            assert_eq!(out.len(), w as usize * h as usize * 4, "{w}x{h}");
            assert!(out.chunks_exact(4).all(|p| p[3] == 255), "{w}x{h}");
            assert!((brightness(&out) - expected(0)).abs() < 3.0, "{w}x{h}");
        }
    }

    #[test]
    fn unlooped_stream_ends_after_the_clip() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("end");
        let clip = counting_clip(&dir);
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, false)).unwrap();
        let levels = read_brightness(&mut frames, 100);
        assert_eq!(levels.len(), 10, "{levels:.1?}");
        assert_sequence(&levels, 0);
        let mut out = Vec::new();
        assert!(!frames.next_frame(&mut out).unwrap());
        assert!(!frames.next_frame(&mut out).unwrap());

        // Twice the clip's rate: every clip frame twice, about duration * fps frames.
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 20.0, 0.0, false)).unwrap();
        let levels = read_brightness(&mut frames, 100);
        assert!((19..=21).contains(&levels.len()), "{levels:.1?}");
        for (i, b) in levels.iter().enumerate().take(20) {
            assert!((b - expected(i / 2)).abs() < 3.0, "frame {i}: {levels:.1?}");
        }
    }

    #[test]
    fn start_skips_ahead() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("start");
        let clip = counting_clip(&dir);
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.5, false)).unwrap();
        let levels = read_brightness(&mut frames, 100);
        assert_eq!(levels.len(), 5, "{levels:.1?}");
        assert_sequence(&levels, 5);

        // Looped, a start beyond the clip is taken modulo its duration: 2.3 s -> frame 3.
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 2.3, true)).unwrap();
        let levels = read_brightness(&mut frames, 15);
        assert_eq!(levels.len(), 15);
        assert_sequence(&levels, 3);
    }

    #[test]
    fn buffers_are_recycled() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("recycle");
        let clip = counting_clip(&dir);
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 30.0, 0.0, true)).unwrap();
        let mut out = Vec::new();
        let mut buffers = std::collections::HashSet::new();
        for _ in 0..100 {
            assert!(frames.next_frame(&mut out).unwrap());
            buffers.insert(out.as_ptr() as usize);
        }
        // The reader's one, two in the channel, the consumer's one, one on its way back.
        assert!(
            buffers.len() <= 5,
            "{} distinct frame buffers",
            buffers.len()
        );
    }

    #[test]
    fn dropping_mid_stream_kills_ffmpeg_without_hanging() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("drop");
        let clip = counting_clip(&dir);
        let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, true)).unwrap();
        let mut out = Vec::new();
        assert!(frames.next_frame(&mut out).unwrap());
        assert!(frames.next_frame(&mut out).unwrap());
        let pid = frames.child.as_ref().map(Child::id).unwrap();
        // Let the reader fill the channel and block on it, and ffmpeg block on the pipe.
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        drop(frames);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "drop took {:?}",
            t.elapsed()
        );
        // Reaped: no zombie left with that pid.
        if cfg!(target_os = "linux") {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "ffmpeg {pid} left"
            );
        }

        // Dropping before reading anything is fine too.
        let frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, true)).unwrap();
        let t = Instant::now();
        drop(frames);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "drop took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn a_looped_still_image_repeats() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("still");
        let png = dir.path("x.png");
        ffmpeg(
            &["-f", "lavfi", "-i", "color=red:s=32x32", "-frames:v", "1"],
            &png,
        );
        let mut frames = VideoFrames::spawn(&png, &opts(32, 32, 30.0, 12.5, true)).unwrap();
        let (mut first, mut out) = (Vec::new(), Vec::new());
        assert!(frames.next_frame(&mut first).unwrap());
        assert!(
            first
                .chunks_exact(4)
                .all(|p| p[0] > 240 && p[1] < 15 && p[2] < 15 && p[3] == 255),
            "not red: {:?}",
            &first[..8]
        );
        for i in 0..40 {
            assert!(frames.next_frame(&mut out).unwrap(), "frame {i}");
            assert_eq!(out, first, "frame {i}");
        }

        // Not looped: the picture (for the 1/25 s an image lasts to ffmpeg), then the end.
        let mut frames = VideoFrames::spawn(&png, &opts(16, 16, 30.0, 0.0, false)).unwrap();
        let mut n = 0;
        while frames.next_frame(&mut out).unwrap() {
            assert_eq!(out.len(), 16 * 16 * 4);
            n += 1;
        }
        assert!((1..=2).contains(&n), "{n} frames");
    }

    #[test]
    fn transparency_stays_straight_alpha() {
        if !have_ffmpeg() {
            return;
        }
        let dir = Scratch::new("alpha");
        let png = dir.path("half.png");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "color=c=red@0.5:s=32x32,format=rgba",
                "-frames:v",
                "1",
            ],
            &png,
        );
        let mut frames = VideoFrames::spawn(&png, &opts(20, 20, 10.0, 0.0, true)).unwrap();
        let mut out = Vec::new();
        assert!(frames.next_frame(&mut out).unwrap());
        // Straight: the colour stays full red while alpha is half, not premultiplied.
        assert!(
            out.chunks_exact(4)
                .all(|p| p[0] > 250 && p[1] < 5 && p[2] < 5 && (120..=135).contains(&p[3])),
            "{:?}",
            &out[..8]
        );
    }
}
