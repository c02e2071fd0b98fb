use std::path::PathBuf;

/// Everything that can go wrong with an ffmpeg child.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error(
        "ffmpeg was not found (tried `{program}`): install it (`apt-get install ffmpeg`, \
         `brew install ffmpeg`) or set FFMPEG to its path"
    )]
    FfmpegMissing { program: String },
    #[error("ffmpeg `{program}` cannot be run: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error(
        "this ffmpeg has no {encoder} encoder: install an ffmpeg built with it \
         (Debian/Ubuntu's `ffmpeg` package has libx264), or use encoder = \"null\""
    )]
    MissingEncoder { encoder: String },
    #[error("output folder {dir} does not exist: create it or choose another output path")]
    OutputDirMissing { dir: PathBuf },
    #[error("cannot write to {path}: {source}. Check the folder's permissions and free space")]
    OutputNotWritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "ffmpeg stopped unexpectedly ({status}) after {frames} frames{hint}; its last lines:\n{stderr}"
    )]
    EncoderDied {
        status: String,
        frames: u64,
        /// A known cause, e.g. ": the disk is full", or empty.
        hint: String,
        stderr: String,
    },
    #[error(
        "the output's folder or temporary file disappeared during the render (output {path}); \
         nothing was written"
    )]
    OutputVanished { path: PathBuf },
    #[error("writing frame {frame} to ffmpeg failed: {source}")]
    Write { frame: u64, source: std::io::Error },
    #[error("ffmpeg failed ({status}){hint}; its last lines:\n{stderr}")]
    EncoderFailed {
        status: String,
        /// A known cause, e.g. ": the disk is full", or empty.
        hint: String,
        stderr: String,
    },
    #[error("moving the finished video to {path} failed: {source}")]
    Rename {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid encoder setting: {0}")]
    Config(String),
    #[error("invalid video frame options: {0}")]
    VideoConfig(String),
    #[error(
        "ffprobe was not found (tried `{program}`): install ffmpeg, which includes it \
         (`apt-get install ffmpeg`, `brew install ffmpeg`), or set FFPROBE to its path"
    )]
    FfprobeMissing { program: String },
    #[error("video file {path} does not exist (or is not a file): check the path")]
    VideoMissing { path: PathBuf },
    #[error(
        "{path} has no video stream: use a video (MP4, MKV, WebM, MOV, GIF) or an image \
         (PNG, JPEG) file"
    )]
    NoVideoStream { path: PathBuf },
    #[error("ffprobe cannot read {path} as a video or image ({status}); it says:\n{stderr}")]
    VideoProbe {
        path: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("decoding video {path} failed: {reason}; ffmpeg's last lines:\n{stderr}")]
    VideoDecode {
        path: PathBuf,
        reason: String,
        stderr: String,
    },
}
