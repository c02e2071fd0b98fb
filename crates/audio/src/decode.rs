//! Packet-by-packet decoding with symphonia.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::AudioError;

/// Corrupt packets tolerated (each replaced by silence) before decoding is abandoned.
const MAX_CONSECUTIVE_BAD_PACKETS: usize = 32;

/// Most frames one packet may claim when it must be replaced by silence: FLAC's largest block
/// (65,535); AAC, MP3 and Vorbis packets are 1,024 to 8,192. A damaged table claiming more is
/// corruption, not a stretch of audio to fill.
const MAX_PACKET_FRAMES: u64 = 1 << 16;

/// Sample rates accepted, in Hz: from below telephone audio up to twice DXD's 352.8 kHz.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// What the container and codec say about the audio track.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub channels: usize,
    /// Length in sample frames (one sample per channel), when known or counted.
    pub frames: u64,
    /// Codec name as symphonia reports it, e.g. "flac".
    pub codec: String,
    /// True when `frames` was stated by the container (so a shorter stream is truncated);
    /// false when it was counted packet by packet.
    pub frames_declared: bool,
}

impl AudioInfo {
    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

/// A block of decoded, interleaved `f32` samples.
#[derive(Debug)]
pub struct Block<'a> {
    /// Index (in sample frames from the start of the track) of the first frame in `samples`.
    pub first_frame: u64,
    /// Channels per frame.
    pub channels: usize,
    /// Interleaved samples, `channels` per frame.
    pub samples: &'a [f32],
}

/// Streams decoded audio from a file, one packet at a time. Memory use is one packet.
pub struct AudioDecoder {
    path: PathBuf,
    origin: Origin,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    info: AudioInfo,
    buf: Option<SampleBuffer<f32>>,
    /// Scratch used to emit silence for a skipped packet.
    silence: Vec<f32>,
    /// Frame index of the next frame `next_block` returns.
    pos: u64,
    bad_packets_in_a_row: usize,
    /// Packet timestamps count sample frames of this track (time base 1/sample rate).
    exact_timestamps: bool,
    /// Number of corrupt packets replaced by silence so far.
    pub skipped_packets: usize,
}

impl std::fmt::Debug for AudioDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDecoder")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

/// Where the encoded audio comes from.
#[derive(Clone)]
enum Origin {
    File,
    /// Encoded bytes held in memory (tests, fuzzing, embedders with their own I/O).
    Memory(Arc<Vec<u8>>),
}

fn open_format(path: &Path, origin: &Origin) -> Result<(Box<dyn FormatReader>, u32), AudioError> {
    let source: Box<dyn symphonia::core::io::MediaSource> = match origin {
        Origin::File => {
            let file = File::open(path).map_err(|source| AudioError::Open {
                path: path.to_owned(),
                source,
            })?;
            if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
                return Err(AudioError::Empty {
                    path: path.to_owned(),
                });
            }
            Box::new(file)
        }
        Origin::Memory(bytes) => {
            if bytes.is_empty() {
                return Err(AudioError::Empty {
                    path: path.to_owned(),
                });
            }
            Box::new(std::io::Cursor::new(SharedBytes(bytes.clone())))
        }
    };
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let fmt_opts = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &fmt_opts, &MetadataOptions::default())
        .map_err(|e| AudioError::Unsupported {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        .ok_or_else(|| AudioError::Unsupported {
            path: path.to_owned(),
            reason: "no decodable audio track".into(),
        })?;
    let id = track.id;
    Ok((format, id))
}

/// `AsRef<[u8]>` over shared bytes, for a `Cursor`.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AudioDecoder {
    /// Opens `path`, probes its format and prepares a decoder for its first audio track.
    ///
    /// When the container does not state its length, the packets are counted once (demuxing only,
    /// no decoding) so that the duration is known before rendering starts.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        Self::open_origin(path, Origin::File)
    }

    /// Decodes an encoded file held in memory; `name` (its extension is a format hint) labels
    /// errors.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>) -> Result<Self, AudioError> {
        Self::open_origin(name, Origin::Memory(Arc::new(bytes)))
    }

    /// Whether this decoder reads a file (not bytes held in memory).
    pub(crate) fn reads_file(&self) -> bool {
        matches!(self.origin, Origin::File)
    }

    /// Another decoder over the same file or bytes, from the start.
    pub fn reopen(&self) -> Result<Self, AudioError> {
        Self::open_origin(&self.path, self.origin.clone())
    }

    fn open_origin(path: &Path, origin: Origin) -> Result<Self, AudioError> {
        guard(path, || Self::open_unguarded(path, origin))
    }

    fn open_unguarded(path: &Path, origin: Origin) -> Result<Self, AudioError> {
        let (format, track_id) = open_format(path, &origin)?;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.id == track_id)
            .ok_or_else(|| AudioError::Unsupported {
                path: path.to_owned(),
                reason: "audio track vanished".into(),
            })?;
        let params = track.codec_params.clone();
        let exact_timestamps = params
            .time_base
            .is_some_and(|tb| tb.numer == 1 && Some(tb.denom) == params.sample_rate);
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| AudioError::Unsupported {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let sample_rate = params.sample_rate.unwrap_or(0);
        if !SAMPLE_RATES.contains(&sample_rate) {
            // A damaged header (a hostile one) can claim anything: 4 GHz would make every
            // video frame hundreds of millions of samples.
            return Err(AudioError::Unsupported {
                path: path.to_owned(),
                reason: format!(
                    "its header gives a sample rate of {sample_rate} Hz, outside {}..={} Hz \
                     (the file is damaged, or resample it)",
                    SAMPLE_RATES.start(),
                    SAMPLE_RATES.end()
                ),
            });
        }
        let codec = symphonia::default::get_codecs()
            .get_codec(params.codec)
            .map(|d| d.short_name.to_string())
            .unwrap_or_else(|| "unknown".into());
        let channels = params.channels.map(|c| c.count()).unwrap_or(0);
        let (frames, frames_declared) = match params.n_frames {
            Some(n) => (n, true),
            None => (count_frames(path, &origin, track_id)?, false),
        };
        if frames == 0 {
            return Err(AudioError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            origin,
            format,
            decoder,
            track_id,
            info: AudioInfo {
                sample_rate,
                channels,
                frames,
                codec,
                frames_declared,
            },
            buf: None,
            silence: Vec::new(),
            pos: 0,
            bad_packets_in_a_row: 0,
            exact_timestamps,
            skipped_packets: 0,
        })
    }

    /// Facts about the stream. `channels` may be 0 until the first packet is decoded for codecs
    /// that only state it in the bitstream; [`AudioDecoder::channels`] is updated as decoding goes.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The file being decoded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index (in sample frames) of the next frame `next_block` returns.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// At the end of the stream: an error when the container promised clearly more audio than
    /// the stream held (a truncated file), so a render never silently ends in silence.
    fn check_complete(&self) -> Result<(), AudioError> {
        let sr = u64::from(self.info.sample_rate);
        if self.info.frames_declared && self.info.frames > self.pos + sr / 10 {
            return Err(AudioError::Truncated {
                path: self.path.clone(),
                declared: self.info.duration_secs(),
                actual: self.pos as f64 / sr as f64,
            });
        }
        Ok(())
    }

    /// Positions the stream so that the next block starts at or before `frame`; blocks report
    /// their exact `first_frame`, so callers can drop what precedes the frame they want.
    /// Falls back to decoding from the start when the format cannot seek.
    pub fn seek(&mut self, frame: u64) -> Result<(), AudioError> {
        if frame == 0 {
            return Ok(());
        }
        let seeked = self.format.seek(
            SeekMode::Accurate,
            SeekTo::TimeStamp {
                ts: frame,
                track_id: self.track_id,
            },
        );
        match seeked {
            Ok(to) => {
                self.decoder.reset();
                // Symphonia may land on a packet before the one requested; keep the timeline
                // exact by counting from where it actually is.
                self.pos = to.actual_ts;
                Ok(())
            }
            Err(e) => {
                log::debug!(
                    "{}: seek failed ({e}); decoding from the start",
                    self.path.display()
                );
                Ok(())
            }
        }
    }

    /// Decodes the next packet. Returns `None` at the end of the stream.
    ///
    /// A corrupt packet is replaced by silence of the packet's duration (the timeline is kept) and
    /// counted in `skipped_packets`; many corrupt packets in a row are an error.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, AudioError> {
        let path = self.path.clone();
        let Some((first, len, from_silence)) = guard(&path, || self.decode_next())? else {
            self.check_complete()?;
            return Ok(None);
        };
        let samples = if from_silence {
            &self.silence[..len]
        } else {
            match &self.buf {
                Some(b) => &b.samples()[..len],
                None => &[],
            }
        };
        Ok(Some(Block {
            first_frame: first,
            channels: self.info.channels.max(1),
            samples,
        }))
    }

    /// Decodes one packet into `buf` (or `silence` for a corrupt one) and returns the first frame
    /// index, the number of interleaved samples and which buffer holds them.
    fn decode_next(&mut self) -> Result<Option<(u64, usize, bool)>, AudioError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                Err(SymError::ResetRequired) => return Ok(None),
                Err(e) => return Err(self.corrupt(e.to_string())),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(decoded) => {
                    self.bad_packets_in_a_row = 0;
                    let spec = *decoded.spec();
                    let frames = decoded.frames();
                    if frames == 0 {
                        continue;
                    }
                    let ch = spec.channels.count();
                    self.info.channels = ch;
                    let buf = match &mut self.buf {
                        Some(b) if b.capacity() >= decoded.capacity() * ch => b,
                        slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
                    };
                    buf.copy_interleaved_ref(decoded);
                    // Data lost before this packet (the demuxer skipped a damaged stretch and the
                    // packet's timestamp is ahead of our count): keep the timeline by starting
                    // this packet where it belongs; the analyzer fills the gap with silence.
                    let ts = packet.ts();
                    if self.exact_timestamps && ts > self.pos + packet.dur.max(1) {
                        log::warn!(
                            "{}: {:.3} s of damaged audio at {:.3} s skipped; silence keeps the timeline",
                            self.path.display(),
                            (ts - self.pos) as f64 / f64::from(self.info.sample_rate),
                            self.pos as f64 / f64::from(self.info.sample_rate),
                        );
                        self.skipped_packets += 1;
                        self.pos = ts;
                    }
                    let first = self.pos;
                    self.pos += frames as u64;
                    return Ok(Some((first, frames * ch, false)));
                }
                Err(e @ (SymError::DecodeError(_) | SymError::IoError(_))) => {
                    if self.bad_packets_in_a_row >= MAX_CONSECUTIVE_BAD_PACKETS {
                        return Err(self.corrupt(format!(
                            "{MAX_CONSECUTIVE_BAD_PACKETS} corrupt packets in a row, last: {e}"
                        )));
                    }
                    if packet.dur > MAX_PACKET_FRAMES {
                        return Err(self.corrupt(format!(
                            "a damaged packet ({e}) claims {} frames, more than any codec's \
                             {MAX_PACKET_FRAMES}",
                            packet.dur
                        )));
                    }
                    self.bad_packets_in_a_row += 1;
                    self.skipped_packets += 1;
                    let frames = packet.dur as usize;
                    log::warn!(
                        "{}: skipped a corrupt packet at {:.3} s ({e}); {} frames replaced by silence",
                        self.path.display(),
                        self.pos as f64 / f64::from(self.info.sample_rate),
                        frames
                    );
                    if frames == 0 {
                        continue;
                    }
                    let len = frames * self.info.channels.max(1);
                    self.silence.clear();
                    self.silence.resize(len, 0.0);
                    let first = self.pos;
                    self.pos += frames as u64;
                    return Ok(Some((first, len, true)));
                }
                Err(e) => return Err(self.corrupt(e.to_string())),
            }
        }
    }

    fn corrupt(&self, reason: String) -> AudioError {
        AudioError::Corrupt {
            path: self.path.clone(),
            seconds: self.pos as f64 / f64::from(self.info.sample_rate.max(1)),
            reason,
        }
    }
}

thread_local! {
    /// Set while symphonia runs under [`guard`]: its panics are reported as errors, not printed.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs symphonia code so that a panic on malformed input (symphonia 0.5 asserts on some
/// headers, e.g. a 0 Hz WAV) becomes [`AudioError::Corrupt`] instead of taking the process down.
/// The panic hook installed once here stays silent for such panics and defers to the previous
/// hook for every other one.
pub(crate) fn guard<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, AudioError>,
) -> Result<T, AudioError> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        Err(AudioError::Corrupt {
            path: path.to_owned(),
            seconds: 0.0,
            reason: format!("the decoder rejected malformed data ({what})"),
        })
    })
}

/// Counts the frames of a track by demuxing (not decoding) every packet.
fn count_frames(path: &Path, origin: &Origin, track_id: u32) -> Result<u64, AudioError> {
    let (mut format, _) = open_format(path, origin)?;
    let mut total = 0u64;
    loop {
        match format.next_packet() {
            Ok(p) if p.track_id() == track_id => total += p.dur,
            Ok(_) => {}
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                return Err(AudioError::Corrupt {
                    path: path.to_owned(),
                    seconds: 0.0,
                    reason: format!("while measuring the duration: {e}"),
                });
            }
        }
    }
    Ok(total)
}
