//! Streaming audio decoding and per-frame analysis.
//!
//! This crate has no GPU dependency. It turns an audio file into a stream of per-video-frame
//! features without ever holding the whole file in memory:
//!
//! * [`AudioDecoder`] decodes any format symphonia supports (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A)
//!   packet by packet, at any sample rate and channel count.
//! * [`FrameAnalyzer`] mixes the stream to mono, keeps a sliding window of samples and, for each
//!   video frame, computes a spectrum with realfft on a Hann window centred on the frame's time,
//!   reduced to log, mel or linear bands, normalised by a whole-track pre-pass, smoothed with
//!   attack/release time constants and peak hold; plus onset strength, beats and tempo, BS.1770
//!   momentary loudness, left/right levels, an oscilloscope trace and bass/mid/treble energies.
//!   The scalar features form one [`FrameFeatures`] record, mirrored in shaders/shared/features.wgsl.
//!
//! ```no_run
//! use audio::{AnalysisConfig, AudioDecoder, FrameAnalyzer};
//! let decoder = AudioDecoder::open("song.flac".as_ref())?;
//! let mut analyzer = FrameAnalyzer::new(decoder, 30.0, 0.0, None, AnalysisConfig::default())?;
//! let mut buffers = analyzer.buffers();
//! while let Some(f) = analyzer.next_frame(&mut buffers)? {
//!     println!("frame {} beat {} bpm {:.0} band0 {:.3}", f.frame, f.beat, f.bpm, buffers.bands[0]);
//! }
//! # Ok::<(), audio::AudioError>(())
//! ```

mod analysis;
mod bands;
mod decode;
mod dynamics;
mod error;
mod features;
mod loudness;
mod onset;
mod r128;
mod tags;
pub mod wav;

pub use analysis::{AnalysisConfig, FrameAnalyzer, FrameBuffers, WARMUP_SECONDS};
pub use bands::{BandLayout, BandScale, a_weighting_db, window_len_for};
pub use decode::{AudioDecoder, AudioInfo, Block, SAMPLE_RATES};
pub use dynamics::{PeakHold, Smoother};
pub use error::AudioError;
pub use features::FrameFeatures;
pub use loudness::KWeighting;
pub use r128::{LoudnessStats, measure_loudness};
pub use tags::{Cover, Tags, read_tags};
