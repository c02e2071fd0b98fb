use std::path::PathBuf;

/// Everything that can go wrong while decoding or analysing audio.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    #[error("cannot open audio file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "audio file {path} is not in a supported format ({reason}); \
         supported: WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A — convert it, e.g. `ffmpeg -i in out.flac`"
    )]
    Unsupported { path: PathBuf, reason: String },
    #[error("audio file {path} contains no audio samples; give a file with at least one sample")]
    Empty { path: PathBuf },
    #[error(
        "audio file {path} is corrupt and decoding cannot continue at {seconds:.3} s: {reason}"
    )]
    Corrupt {
        path: PathBuf,
        seconds: f64,
        reason: String,
    },
    #[error(
        "audio file {path} ends early: its header promises {declared:.3} s but only {actual:.3} s \
         could be decoded (the file is truncated or damaged). Repair it by re-encoding \
         (e.g. `ffmpeg -i in.ext fixed.flac`), or render what is there with --duration {actual:.3}"
    )]
    Truncated {
        path: PathBuf,
        declared: f64,
        actual: f64,
    },
    #[error("invalid analysis setting: {0}")]
    Config(String),
}
