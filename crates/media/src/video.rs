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

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use crate::MediaError;
use crate::process::{StderrTail, ffmpeg_program, ffprobe_program, format_fps, spawn_error};

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
    tail: StderrTail,
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
        let tail = StderrTail::new(STDERR_TAIL_LINES);
        let (frames_tx, frames_rx) = mpsc::sync_channel(FRAMES_IN_FLIGHT);
        let (recycle_tx, recycle_rx) = mpsc::channel();
        let threads = (|| -> std::io::Result<_> {
            let stderr_thread = match child.stderr.take() {
                Some(stderr) => {
                    Some(tail.spawn_reader("video-stderr", "ffmpeg (video)", stderr)?)
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
        let stderr = self.tail.text();
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
mod tests;
