//! Streaming audio decoding and per-frame spectrum analysis.
//!
//! This crate has no GPU dependency. It turns an audio file into a stream of per-video-frame
//! features without ever holding the whole file in memory:
//!
//! * [`AudioDecoder`] decodes any format symphonia supports (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A)
//!   packet by packet, at any sample rate and channel count.
//! * [`FrameAnalyzer`] mixes the decoded stream down to mono, keeps a sliding window of samples
//!   (one FFT window plus one decoded packet) and, for each video frame, computes a spectrum with
//!   realfft on a Hann window centred on the frame's time, reduced to log-spaced bands.
//!
//! ```no_run
//! use audio::{AudioDecoder, FrameAnalyzer, SpectrumConfig};
//! let decoder = AudioDecoder::open("song.flac".as_ref())?;
//! let mut analyzer = FrameAnalyzer::new(decoder, 30.0, 0.0, None, SpectrumConfig::default())?;
//! let mut bands = vec![0.0; analyzer.band_count()];
//! while let Some(features) = analyzer.next_frame(&mut bands)? {
//!     println!("frame {} rms {:.3} band0 {:.3}", features.frame, features.rms, bands[0]);
//! }
//! # Ok::<(), audio::AudioError>(())
//! ```

mod analysis;
mod decode;
mod error;
mod spectrum;

pub use analysis::{FrameAnalyzer, FrameFeatures};
pub use decode::{AudioDecoder, AudioInfo, Block};
pub use error::AudioError;
pub use spectrum::{BandLayout, SpectrumConfig, window_len_for};
