//! `renderer studio`: design a video in the browser, with the frame the render will show drawn
//! live by the real GPU pipeline as the job is edited.
//!
//! This crate is the studio's web half: an HTTP server (axum on tokio) bound to 127.0.0.1 and
//! the page it serves (plain HTML/CSS/JS compiled into the binary). What draws frames, reads
//! jobs and renders videos is a [`Backend`], implemented by the `renderer` binary on the
//! renderer library (`renderer::Preview`, `renderer::render`): the renderer package depends on
//! this crate, so this crate cannot depend back on it.
//!
//! The server:
//! - every request needs the per-run token (`?token=` or `X-Studio-Token`), a `Host` of
//!   `127.0.0.1:PORT` or `localhost:PORT` (no DNS rebinding) and, where the browser sends one,
//!   an `Origin` of the same (no cross-site requests) — see [`guard`];
//! - watches the job file and every file it names, re-reads the job on a change and tells the
//!   page over server-sent events; a broken job keeps the last good one drawing;
//! - draws frames on one thread that owns the backend's device, one request at a time; a newer
//!   request replaces a waiting one (the older is answered `204`), so a queue never builds up;
//! - saves the page's edits atomically, refusing to overwrite a file changed on disk since;
//! - runs one full render at a time with progress, ETA and cancel.
//!
//! The HTTP API is described in `API.md` beside this crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

mod frames;
pub mod guard;
mod jobs;
pub mod problem;
mod render;
mod server;

pub use problem::Problem;
pub use server::{Studio, serve};

/// What the studio needs from the renderer. Calls come from several threads: `frame` from the
/// drawing thread only (one at a time), `load` from the watcher, `timeline` and `render` from
/// workers of their own.
pub trait Backend: Send + Sync + 'static {
    /// Reads and checks the job file at `path`. On success the backend keeps the job as the one
    /// that [`Self::frame`], [`Self::timeline`] and [`Self::render`] use; on failure it keeps the
    /// last good one.
    fn load(&self, path: &Path) -> Result<JobInfo, Problem>;
    /// Draws a frame of the current job (a PNG).
    fn frame(&self, request: &FrameRequest) -> Result<Frame, Problem>;
    /// The current job's timeline: waveform, loudness, beats, chapters, captions.
    fn timeline(&self) -> Result<Timeline, Problem>;
    /// Renders the current job to its output, reporting progress, until done or `cancel` is set;
    /// returns the video written.
    fn render(
        &self,
        progress: &mut dyn FnMut(RenderProgress),
        cancel: Arc<AtomicBool>,
    ) -> Result<PathBuf, Problem>;
}

/// What the page shows of a job that loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The render's span, seconds into the audio.
    pub start: f64,
    pub end: f64,
    pub audio_duration: f64,
    pub layers: Vec<LayerInfo>,
    /// The video a render writes.
    pub output: PathBuf,
    /// Its MIME type (for the page's player).
    pub output_kind: String,
    /// The audio file (played by the page, which reloads it when this changes).
    pub audio: PathBuf,
    /// Every file the job reads besides itself (watched for changes, and servable).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
}

/// One `[[layer]]` of the job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    pub kind: String,
    pub label: String,
}

/// A frame to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRequest {
    /// Seconds into the audio.
    pub time: f64,
    /// Fraction of the job's frame size (1 = full size).
    pub scale: f64,
    /// Indices of layers not to draw.
    pub hidden: Vec<usize>,
}

/// A drawn frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub png: Vec<u8>,
    /// The time shown (on the job's frame grid).
    pub time: f64,
}

/// A job's timeline, as the page draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub start: f64,
    pub end: f64,
    /// Seconds per entry of `waveform` and `loudness`.
    pub bucket_seconds: f64,
    /// Peak level per bucket, 0..=1.
    pub waveform: Vec<f32>,
    /// Short-term loudness per bucket mapped from -60..0 LUFS to 0..=1.
    pub loudness: Vec<f32>,
    pub beats: Vec<f64>,
    pub chapters: Vec<Chapter>,
    pub captions: Vec<Caption>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chapter {
    pub time: f64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Caption {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// A running render's progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderProgress {
    pub done: u64,
    pub total: u64,
    pub fps: f64,
    pub eta_seconds: Option<f64>,
}

/// How to run the studio.
#[derive(Debug, Clone)]
pub struct Options {
    /// The job file.
    pub job: PathBuf,
    /// Port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Default preview scale of the page (0.5: half the job's size).
    pub scale: f64,
}

/// What can stop the studio.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudioError {
    #[error("{path}: cannot open the job file: {source} (give the path of an existing job .toml)")]
    Job {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (choose another port with --port, or 0 for any)"
    )]
    Bind { port: u16, source: std::io::Error },
    #[error("--scale must be between 0.05 and 1, got {0}")]
    Scale(f64),
    #[error("studio: {0}")]
    Io(#[from] std::io::Error),
}
