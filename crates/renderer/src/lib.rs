//! GPU-native audio-to-video rendering.
//!
//! A [`Job`] (parsed from `job.toml` or built in code) says what to render; [`render`] streams
//! the audio through analysis, draws every frame on the GPU, converts it to NV12 there and hands
//! it to the encoder, with memory that stays flat whatever the duration.
//!
//! ```no_run
//! use renderer::{Job, RenderOptions, render};
//!
//! let mut job = Job::new("talk.mp3", "talk.mp4");
//! job.video.width = renderer::job::Dimension(1280);
//! job.video.height = renderer::job::Dimension(720);
//! let summary = render(&job, RenderOptions::default())?;
//! println!("{summary}");
//! # Ok::<(), renderer::RenderError>(())
//! ```
//!
//! Progress and cancellation:
//!
//! ```
//! use std::sync::{Arc, atomic::AtomicBool};
//! use renderer::{Job, RenderError, RenderOptions, render};
//!
//! let job = Job::new("no-such-file.wav", "out.mp4");
//! let cancel = Arc::new(AtomicBool::new(false));
//! let mut on_progress = |p: &renderer::Progress| eprintln!("{}/{}", p.frames_done, p.frames_total);
//! let result = render(&job, RenderOptions {
//!     progress: Some(&mut on_progress),
//!     cancel: Some(cancel.clone()),
//!     ..Default::default()
//! });
//! // A missing input is reported before any GPU or ffmpeg work starts.
//! assert!(matches!(result, Err(RenderError::Audio(_))));
//! ```

pub mod expr;
pub mod job;
mod layers;
mod memory;
mod nvenc_out;
mod preflight;
mod render;
mod scene;
pub mod styles;

pub use job::{Job, JobError};
pub use render::{
    JoinSummary, LimitExceeded, Limits, Overview, Preview, PreviewFrame, Progress, RenderOptions,
    RenderSummary, Segment, SegmentTag, StillSummary, job_fingerprint, join, overview, render,
    render_still, write_png,
};

/// Everything a render can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Audio(#[from] audio::AudioError),
    #[error(transparent)]
    Gpu(#[from] gpu::GpuError),
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error("NVENC: {0}")]
    Nvenc(#[from] nvenc::NvencError),
    /// The job asks for an encoder this machine cannot run (a user-input error).
    #[error("{0}")]
    EncoderUnavailable(String),
    #[error("{path}: {message}")]
    Asset {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("segments: {0}")]
    Segment(String),
    #[error("avatar: {0}")]
    Avatar(String),
    #[error(transparent)]
    LipSync(#[from] wav2lip::Wav2LipError),
    /// The job is over one of the caller's [`Limits`].
    #[error("the job exceeds a limit: {0}")]
    Limit(LimitExceeded),
    #[error("the render was cancelled; no output was written")]
    Cancelled,
    #[error("the writer stopped before all frames were written")]
    WriterStopped,
    /// A thread of the render ("analysis", "writer") could not be started.
    #[error("internal error: cannot start the {thread} thread")]
    ThreadSpawn {
        thread: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A thread of the render ("analysis", "writer") panicked.
    #[error("internal error: the {thread} thread panicked")]
    ThreadPanicked { thread: &'static str },
    /// The analysis ended with another number of frames than the render planned (a still
    /// plans one).
    #[error("internal error: rendered {rendered} frames, expected {expected}")]
    FrameCount { rendered: u64, expected: u64 },
    /// An avatar layer used before the render prepared it (its networks, detector, texture or
    /// face buffer): a bug, named by what was missing.
    #[error("internal error: avatar layer: {missing} not ready")]
    AvatarNotReady { missing: &'static str },
}

pub use memory::peak_rss;
