//! ffmpeg child processes.
//!
//! [`FfmpegEncoder`] streams raw NV12 frames into an `ffmpeg` child's stdin, which encodes them
//! (libx264) and muxes them with the source audio (AAC) into an MP4; or an already encoded
//! H.264/HEVC Annex-B stream (from NVENC), which it muxes with `-c:v copy`. The MP4 is written to a
//! temporary file beside the output and renamed into place only when ffmpeg succeeded, so a
//! failed or interrupted render never leaves a partial file at the output path. ffmpeg's stderr
//! is read line by line by a thread as it comes; its last lines go into error messages.

mod chapters;
mod encoder;
mod error;
mod join;
mod loudness;
mod process;
pub mod video;

pub use chapters::{ChapterMark, ffmetadata};
pub use encoder::{
    AudioInput, EncodeStats, EncoderSettings, FfmpegEncoder, RawFrames, VideoCodec, X264_PRESETS,
    temp_path_for,
};
pub use error::MediaError;
pub use join::{join_segments, probe_comment};
pub use loudness::filtered_loudness;
pub use process::{
    ChildUsage, FfmpegInfo, ffmpeg_program, ffprobe_program, probe_ffmpeg, wait_with_usage,
};
