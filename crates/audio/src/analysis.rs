//! Per-video-frame analysis over a streamed decode.

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex};

use crate::{AudioDecoder, AudioError, BandLayout, SpectrumConfig, window_len_for};

/// Scalar features of one video frame. The band levels are written to a caller's slice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFeatures {
    /// Frame index counted from the render start.
    pub frame: u64,
    /// Time of the frame in the audio file, seconds.
    pub time: f64,
    /// RMS of the mono mix over the analysis window (full-scale sine = 0.707).
    pub rms: f32,
    /// Largest absolute sample in the window.
    pub peak: f32,
}

/// Streams [`FrameFeatures`] and band levels for frames `0..frames` of a render that starts
/// `start` seconds into the audio at `fps` frames per second.
///
/// Memory is bounded: one FFT window of mono samples plus one decoded packet.
pub struct FrameAnalyzer {
    decoder: AudioDecoder,
    fps: f64,
    start: f64,
    frames: u64,
    next: u64,
    sample_rate: u32,
    window_len: usize,
    /// Mono samples; `ring[0]` is absolute sample index `ring_start`.
    ring: VecDeque<f32>,
    ring_start: i64,
    eof: bool,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    fft_in: Vec<f32>,
    fft_out: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
    power_scale: f32,
    layout: BandLayout,
}

impl std::fmt::Debug for FrameAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameAnalyzer")
            .field("decoder", &self.decoder)
            .field("fps", &self.fps)
            .field("start", &self.start)
            .field("frames", &self.frames)
            .field("next", &self.next)
            .field("window_len", &self.window_len)
            .finish_non_exhaustive()
    }
}

impl FrameAnalyzer {
    /// `duration` of `None` renders to the end of the audio.
    pub fn new(
        mut decoder: AudioDecoder,
        fps: f64,
        start: f64,
        duration: Option<f64>,
        config: SpectrumConfig,
    ) -> Result<Self, AudioError> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(AudioError::Config(format!("fps {fps} must be positive")));
        }
        let info = decoder.info().clone();
        let total = info.duration_secs();
        if !(start.is_finite() && start >= 0.0) || start >= total {
            return Err(AudioError::Config(format!(
                "start {start} s is outside the audio ({total:.3} s long) of {}",
                decoder.path().display()
            )));
        }
        let length = match duration {
            Some(d) if !(d.is_finite() && d > 0.0) => {
                return Err(AudioError::Config(format!(
                    "duration {d} s must be positive"
                )));
            }
            Some(d) => d.min(total - start),
            None => total - start,
        };
        let frames = ((length * fps).round() as u64).max(1);
        let sample_rate = info.sample_rate;
        let window_len = window_len_for(sample_rate);
        let layout = BandLayout::new(&config, sample_rate, window_len)?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(window_len);
        // Periodic Hann window.
        let window: Vec<f32> = (0..window_len)
            .map(|i| {
                let x = std::f32::consts::TAU * i as f32 / window_len as f32;
                0.5 - 0.5 * x.cos()
            })
            .collect();
        // A full-scale sine's peak bin has magnitude sum(window)/2 = N/4.
        let peak = window_len as f32 / 4.0;
        let first_needed = centre_sample(start, 0, fps, sample_rate) - window_len as i64 / 2;
        let ring_start = first_needed.max(0);
        decoder.seek(ring_start as u64)?;
        Ok(Self {
            fft_in: fft.make_input_vec(),
            fft_out: fft.make_output_vec(),
            fft_scratch: fft.make_scratch_vec(),
            power: vec![0.0; window_len / 2 + 1],
            power_scale: 1.0 / (peak * peak),
            fft,
            window,
            decoder,
            fps,
            start,
            frames,
            next: 0,
            sample_rate,
            window_len,
            ring: VecDeque::with_capacity(window_len * 2),
            ring_start,
            eof: false,
            layout,
        })
    }

    /// Total number of frames this analyzer yields.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn band_count(&self) -> usize {
        self.layout.len()
    }

    pub fn layout(&self) -> &BandLayout {
        &self.layout
    }

    pub fn decoder(&self) -> &AudioDecoder {
        &self.decoder
    }

    /// Computes the next frame, writing `band_count()` levels into `bands`.
    pub fn next_frame(&mut self, bands: &mut [f32]) -> Result<Option<FrameFeatures>, AudioError> {
        if self.next >= self.frames {
            return Ok(None);
        }
        let frame = self.next;
        let half = self.window_len as i64 / 2;
        let centre = centre_sample(self.start, frame, self.fps, self.sample_rate);
        let lo = centre - half;
        let hi = lo + self.window_len as i64;
        // Drop samples no window needs any more, then fill up to the window's end.
        let drop = (lo - self.ring_start).clamp(0, self.ring.len() as i64) as usize;
        self.ring.drain(..drop);
        self.ring_start += drop as i64;
        if self.ring.is_empty() && lo > self.ring_start {
            self.ring_start = lo;
        }
        while !self.eof && self.ring_start + (self.ring.len() as i64) < hi {
            self.pull()?;
        }
        let mut sum_sq = 0.0f32;
        let mut peak = 0.0f32;
        for (i, (dst, w)) in self.fft_in.iter_mut().zip(&self.window).enumerate() {
            let idx = lo + i as i64 - self.ring_start;
            let s = if idx >= 0 {
                self.ring.get(idx as usize).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            let s = if s.is_finite() { s } else { 0.0 };
            sum_sq += s * s;
            peak = peak.max(s.abs());
            *dst = s * w;
        }
        self.fft
            .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.fft_scratch)
            .map_err(|e| AudioError::Config(format!("FFT failed: {e}")))?;
        for (p, c) in self.power.iter_mut().zip(&self.fft_out) {
            *p = c.norm_sqr() * self.power_scale;
        }
        self.layout.levels(&self.power, bands);
        self.next += 1;
        Ok(Some(FrameFeatures {
            frame,
            time: self.start + frame as f64 / self.fps,
            rms: (sum_sq / self.window_len as f32).sqrt(),
            peak,
        }))
    }

    /// Decodes one packet, mixes it to mono and appends what lies after `ring_start`.
    fn pull(&mut self) -> Result<(), AudioError> {
        let Some(block) = self.decoder.next_block()? else {
            self.eof = true;
            return Ok(());
        };
        let ch = block.channels.max(1);
        let first = block.first_frame as i64;
        let expected = self.ring_start + self.ring.len() as i64;
        // A seek may land early: skip what precedes the position we need. A gap (the decoder
        // jumped forward) is filled with silence so frame times stay exact.
        if first > expected {
            self.ring
                .extend(std::iter::repeat_n(0.0, (first - expected) as usize));
        }
        let skip = (expected - first).max(0) as usize;
        let scale = 1.0 / ch as f32;
        for frame in block.samples.chunks_exact(ch).skip(skip) {
            self.ring.push_back(frame.iter().sum::<f32>() * scale);
        }
        Ok(())
    }
}

/// Absolute sample index at the centre of frame `frame`'s window.
fn centre_sample(start: f64, frame: u64, fps: f64, sample_rate: u32) -> i64 {
    ((start + frame as f64 / fps) * f64::from(sample_rate)).round() as i64
}
