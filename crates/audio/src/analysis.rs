//! Per-video-frame analysis over a streamed decode.

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex};

use crate::bands::{BandLayout, BandScale, range_db, window_len_for};
use crate::dynamics::{PeakHold, Smoother};
use crate::loudness::{KWeighting, channel_weight};
use crate::onset::OnsetTracker;
use crate::{AudioDecoder, AudioError, FrameFeatures};

/// Seconds of audio analysed (and discarded) before a render that starts mid-file, so that
/// smoothing, peak hold and the beat tracker are in the state a whole-file render would have.
pub const WARMUP_SECONDS: f64 = 3.0;
/// Half of the momentary-loudness window (BS.1770: 400 ms).
const LOUDNESS_HALF_S: f64 = 0.2;
/// Decay time constant of the beat pulse.
const BEAT_PULSE_S: f64 = 0.12;

/// Analysis settings (the job file's `[analysis]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Number of bands, 8..=512.
    pub bands: usize,
    pub scale: BandScale,
    pub min_hz: f32,
    pub max_hz: f32,
    /// dB below the reference that maps to level 0 (the reference maps to 1). Negative.
    pub floor_db: f32,
    /// Weight bands by the A curve (hearing-like emphasis of 1-5 kHz).
    pub a_weighting: bool,
    /// Spectral tilt compensation in dB per octave around 1 kHz (music falls ~3 dB/octave).
    pub tilt_db_per_octave: f32,
    /// Scale levels by a whole-track pre-pass so quiet and loud tracks both fill the frame.
    pub normalize: bool,
    /// Percentile (over frames) of the loudest band's level used as the reference, 50..=100.
    pub percentile: f32,
    /// Smoothing time constants of rising and falling levels, milliseconds.
    pub attack_ms: f32,
    pub release_ms: f32,
    /// Peak hold time, milliseconds, and fall-off afterwards, levels per second.
    pub peak_hold_ms: f32,
    pub peak_fall_per_s: f32,
    /// Min/max pairs of the per-frame oscilloscope trace, 16..=4096.
    pub waveform_points: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            bands: 64,
            scale: BandScale::Log,
            min_hz: 30.0,
            max_hz: 16_000.0,
            floor_db: -60.0,
            a_weighting: false,
            tilt_db_per_octave: 3.0,
            normalize: true,
            percentile: 95.0,
            attack_ms: 20.0,
            release_ms: 200.0,
            peak_hold_ms: 300.0,
            peak_fall_per_s: 1.5,
            waveform_points: 512,
        }
    }
}

impl AnalysisConfig {
    pub fn validate(&self) -> Result<(), AudioError> {
        let bad = |m: String| Err(AudioError::Config(m));
        if !(8..=512).contains(&self.bands) {
            return bad(format!("bands = {} is out of range 8..=512", self.bands));
        }
        let finite = [
            self.min_hz,
            self.max_hz,
            self.floor_db,
            self.tilt_db_per_octave,
            self.percentile,
            self.attack_ms,
            self.release_ms,
            self.peak_hold_ms,
            self.peak_fall_per_s,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite {
            return bad("analysis settings must be finite numbers".into());
        }
        if self.min_hz <= 0.0 || self.max_hz <= self.min_hz {
            return bad(format!(
                "frequency range {}..{} Hz is invalid: need 0 < min_hz < max_hz",
                self.min_hz, self.max_hz
            ));
        }
        if self.floor_db >= 0.0 {
            return bad(format!("floor_db = {} must be negative", self.floor_db));
        }
        if !(50.0..=100.0).contains(&self.percentile) {
            return bad(format!(
                "percentile = {} is out of range 50..=100",
                self.percentile
            ));
        }
        if self.attack_ms < 0.0 || self.release_ms < 0.0 || self.peak_hold_ms < 0.0 {
            return bad("attack_ms, release_ms and peak_hold_ms must be >= 0".into());
        }
        if self.peak_fall_per_s < 0.0 {
            return bad("peak_fall must be >= 0".into());
        }
        if !(16..=4096).contains(&self.waveform_points) {
            return bad(format!(
                "waveform_points = {} is out of range 16..=4096",
                self.waveform_points
            ));
        }
        Ok(())
    }
}

/// How a [`FrameAnalyzer`] runs: the full analysis, or the band-only normalisation pre-pass.
#[derive(Debug, Clone, Copy)]
struct Mode {
    window_len: usize,
    /// Onsets, loudness, waveform (false in the pre-pass, which needs band levels only).
    full: bool,
    reference_db: f32,
}

/// Frames per second the normalisation pre-pass analyses (at most): a percentile over hours of
/// audio does not need every video frame.
const PREPASS_FPS: f64 = 10.0;

/// Per-frame arrays, sized by [`FrameAnalyzer::buffers`].
#[derive(Debug, Clone, Default)]
pub struct FrameBuffers {
    /// Smoothed, normalised band levels, 0..=1.
    pub bands: Vec<f32>,
    /// Peak-hold levels per band, 0..=1.
    pub peaks: Vec<f32>,
    /// Oscilloscope trace of the mono mix over the frame: (min, max) pairs, -1..=1.
    pub waveform: Vec<f32>,
    /// The same trace for the left channel, then for the right (both the mono signal for mono
    /// files): `2 * waveform.len()` values.
    pub waveform_stereo: Vec<f32>,
}

/// Streams per-frame features for frames `0..frames` of a render that starts `start` seconds
/// into the audio at `fps` frames per second.
///
/// Memory is bounded: the FFT window, the 400 ms loudness window and one decoded packet.
/// With `normalize`, the file is decoded twice: the first pass only histograms the loudest band
/// per frame (0.1 dB bins, a few kilobytes), which gives the reference level without storing
/// anything per frame; decoding again is cheaper than keeping hours of spectra.
pub struct FrameAnalyzer {
    decoder: AudioDecoder,
    config: AnalysisConfig,
    fps: f64,
    /// Time of analysed frame 0 (before the warm-up is discarded).
    analysis_start: f64,
    warmup: u64,
    frames: u64,
    /// Index of the next frame to analyse, counted from `analysis_start`.
    next: u64,
    sample_rate: u32,
    window_len: usize,
    /// Mono samples; `ring[0]` is absolute sample index `ring_start`.
    ring: VecDeque<f32>,
    /// Per sample, aligned with `ring`: K-weighted power summed over channels, and the squares
    /// of the left and right channels.
    kpow: VecDeque<f32>,
    left_sq: VecDeque<f32>,
    right_sq: VecDeque<f32>,
    /// Per sample, aligned with `ring`: the left and right channels (both the mono channel for
    /// mono files), for the stereo oscilloscope.
    left: VecDeque<f32>,
    right: VecDeque<f32>,
    kfilters: Vec<KWeighting>,
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
    reference_db: f32,
    band_db: Vec<f32>,
    raw: Vec<f32>,
    smoother: Smoother,
    peaks: PeakHold,
    ranges: Smoother,
    onset: Option<OnsetTracker>,
}

impl std::fmt::Debug for FrameAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameAnalyzer")
            .field("decoder", &self.decoder)
            .field("fps", &self.fps)
            .field("frames", &self.frames)
            .field("next", &self.next)
            .field("window_len", &self.window_len)
            .field("reference_db", &self.reference_db)
            .finish_non_exhaustive()
    }
}

impl FrameAnalyzer {
    /// `duration` of `None` renders to the end of the audio.
    pub fn new(
        decoder: AudioDecoder,
        fps: f64,
        start: f64,
        duration: Option<f64>,
        config: AnalysisConfig,
    ) -> Result<Self, AudioError> {
        config.validate()?;
        let reference_db = if config.normalize {
            remembered_reference(&decoder, fps, &config)?
        } else {
            0.0
        };
        let mode = Mode {
            window_len: window_len_for(decoder.info().sample_rate, fps, config.min_hz),
            full: true,
            reference_db,
        };
        Self::with_mode(decoder, fps, start, duration, config, mode)
    }

    fn with_mode(
        mut decoder: AudioDecoder,
        fps: f64,
        start: f64,
        duration: Option<f64>,
        config: AnalysisConfig,
        mode: Mode,
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
        let warmup = ((start * fps).floor() as u64).min((WARMUP_SECONDS * fps).round() as u64);
        let analysis_start = start - warmup as f64 / fps;
        let sample_rate = info.sample_rate;
        let Mode {
            window_len,
            full,
            reference_db,
        } = mode;
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
        let centre0 = (analysis_start * f64::from(sample_rate)).round() as i64;
        let history =
            (window_len as i64 / 2).max((LOUDNESS_HALF_S * f64::from(sample_rate)).ceil() as i64);
        let ring_start = (centre0 - history).max(0);
        decoder.seek(ring_start as u64)?;
        let onset = full.then(|| OnsetTracker::new(sample_rate, centre0 - history));
        let bands = layout.len();
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
            analysis_start,
            warmup,
            frames,
            next: 0,
            sample_rate,
            window_len,
            ring: VecDeque::with_capacity(window_len * 2),
            kpow: VecDeque::new(),
            left_sq: VecDeque::new(),
            right_sq: VecDeque::new(),
            left: VecDeque::new(),
            right: VecDeque::new(),
            kfilters: Vec::new(),
            ring_start,
            eof: false,
            layout,
            reference_db,
            band_db: vec![0.0; bands],
            raw: vec![0.0; bands],
            smoother: Smoother::new(bands, config.attack_ms, config.release_ms),
            peaks: PeakHold::new(bands, config.peak_hold_ms, config.peak_fall_per_s),
            ranges: Smoother::new(3, config.attack_ms, config.release_ms),
            onset,
            config,
        })
    }

    /// Total number of frames this analyzer yields.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn band_count(&self) -> usize {
        self.layout.len()
    }

    pub fn layout(&self) -> &crate::BandLayout {
        &self.layout
    }

    pub fn decoder(&self) -> &AudioDecoder {
        &self.decoder
    }

    /// The level (dB relative to a full-scale sine) that maps to 1.
    pub fn reference_db(&self) -> f32 {
        self.reference_db
    }

    /// Buffers of the right sizes for [`FrameAnalyzer::next_frame`].
    pub fn buffers(&self) -> FrameBuffers {
        FrameBuffers {
            bands: vec![0.0; self.band_count()],
            peaks: vec![0.0; self.band_count()],
            waveform: vec![0.0; 2 * self.config.waveform_points],
            waveform_stereo: vec![0.0; 4 * self.config.waveform_points],
        }
    }

    fn map_level(&self, db: f32) -> f32 {
        level_in_range(db, self.reference_db, self.config.floor_db)
    }

    /// Computes the next frame into `out` (see [`FrameAnalyzer::buffers`]).
    pub fn next_frame(
        &mut self,
        out: &mut FrameBuffers,
    ) -> Result<Option<FrameFeatures>, AudioError> {
        loop {
            if self.next >= self.warmup + self.frames {
                return Ok(None);
            }
            let features = self.analyse_next(out)?;
            if self.next > self.warmup {
                return Ok(Some(features));
            }
        }
    }

    /// Analyses frame `self.next` (warm-up frames included) and advances.
    fn analyse_next(&mut self, out: &mut FrameBuffers) -> Result<FrameFeatures, AudioError> {
        let k = self.next;
        self.next += 1;
        let sr = f64::from(self.sample_rate);
        let time = self.analysis_start + k as f64 / self.fps;
        let centre = (time * sr).round() as i64;
        let half = self.window_len as i64 / 2;
        let lo = centre - half;
        let hi = lo + self.window_len as i64;
        let loud_half = (LOUDNESS_HALF_S * sr).ceil() as i64;
        let frame_half = (0.5 / self.fps * sr).ceil() as i64;
        let lookahead = match &self.onset {
            Some(o) => centre + frame_half + (o.window + 2 * o.hop) as i64,
            None => hi,
        };
        let need_end = hi.max(centre + loud_half).max(lookahead);
        // Keep what any window still needs; drop the rest.
        let mut keep_from = lo.min(centre - loud_half).min(centre - frame_half);
        if let Some(o) = &self.onset {
            keep_from = keep_from.min(o.next_start);
        }
        let drop = (keep_from - self.ring_start).clamp(0, self.ring.len() as i64) as usize;
        self.ring.drain(..drop);
        let aux_drop = drop.min(self.kpow.len());
        self.kpow.drain(..aux_drop);
        self.left_sq.drain(..aux_drop);
        self.right_sq.drain(..aux_drop);
        self.left.drain(..aux_drop);
        self.right.drain(..aux_drop);
        self.ring_start += drop as i64;
        if self.ring.is_empty() && keep_from > self.ring_start {
            self.ring_start = keep_from;
        }
        while !self.eof && self.ring_start + (self.ring.len() as i64) < need_end {
            self.pull()?;
        }
        self.run_onsets();

        // Contiguous views: the loops below run over plain slices (vectorisable, no per-sample
        // ring-index arithmetic). Re-linearising ~0.5 s of samples per frame is cheap.
        let ring_start = self.ring_start;
        self.ring.make_contiguous();
        let ring = self.ring.as_slices().0;
        // Samples `a..b` (absolute indices) as (zeros before, slice, zeros after).
        let span = |q_len: usize, a: i64, b: i64| -> (usize, std::ops::Range<usize>, usize) {
            let lo = (a - ring_start).clamp(0, q_len as i64) as usize;
            let hi = (b - ring_start).clamp(0, q_len as i64) as usize;
            let before = (ring_start - a).clamp(0, b - a) as usize;
            let total = (b - a).max(0) as usize;
            let inside = hi.saturating_sub(lo);
            (before, lo..lo + inside, total - before - inside)
        };

        // Spectrum.
        let (before, inside, _) = span(ring.len(), lo, hi);
        self.fft_in.fill(0.0);
        let src = &ring[inside];
        let dst = &mut self.fft_in[before..before + src.len()];
        let w = &self.window[before..before + src.len()];
        let mut sum_sq = 0.0f32;
        let mut peak = 0.0f32;
        for ((d, &x), &wv) in dst.iter_mut().zip(src).zip(w) {
            sum_sq += x * x;
            peak = peak.max(x.abs());
            *d = x * wv;
        }
        self.fft
            .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.fft_scratch)
            .map_err(|e| AudioError::Config(format!("FFT failed: {e}")))?;
        for (p, c) in self.power.iter_mut().zip(&self.fft_out) {
            *p = c.norm_sqr() * self.power_scale;
        }
        self.layout.levels_db(&self.power, &mut self.band_db);
        let dt = (1.0 / self.fps) as f32;
        for (r, &db) in self.raw.iter_mut().zip(&self.band_db) {
            *r = level_in_range(db, self.reference_db, self.config.floor_db);
        }
        self.smoother.step(&self.raw, dt, &mut out.bands);
        self.peaks.step(&out.bands, dt, &mut out.peaks);
        let rms = (sum_sq / self.window_len as f32).sqrt();
        if self.onset.is_none() {
            // The normalisation pre-pass needs the band levels only.
            return Ok(FrameFeatures {
                time: time as f32,
                rms,
                peak,
                ..FrameFeatures::default()
            });
        }

        let bin_hz = self.sample_rate as f32 / self.window_len as f32;
        let ranges_raw = [(20.0, 250.0), (250.0, 4000.0), (4000.0, 16000.0)]
            .map(|(a, b)| self.map_level(range_db(&self.power, bin_hz, a, b)));
        let mut ranges = [0.0f32; 3];
        self.ranges.step(&ranges_raw, dt, &mut ranges);

        // Waveform: min/max pairs over the frame's own samples [t - 1/2 frame, t + 1/2 frame).
        let (w0, w1) = (centre - frame_half, centre + frame_half);
        let points = out.waveform.len() / 2;
        let width = (w1 - w0).max(1);
        for p in 0..points {
            let a = w0 + width * p as i64 / points as i64;
            let b = (w0 + width * (p as i64 + 1) / points as i64).max(a + 1);
            let (before, inside, after) = span(ring.len(), a, b);
            let (mut mn, mut mx) = if before + after > 0 {
                (0.0f32, 0.0f32)
            } else {
                (f32::INFINITY, f32::NEG_INFINITY)
            };
            for &s in &ring[inside] {
                mn = mn.min(s);
                mx = mx.max(s);
            }
            out.waveform[2 * p] = mn.clamp(-1.0, 1.0);
            out.waveform[2 * p + 1] = mx.clamp(-1.0, 1.0);
        }
        // The same per channel (the channel rings are kept only in the full analysis).
        if self.left.len() == ring.len() {
            let channels = [self.left.make_contiguous(), self.right.make_contiguous()];
            for (c, samples) in channels.into_iter().enumerate() {
                for p in 0..points {
                    let a = w0 + width * p as i64 / points as i64;
                    let b = (w0 + width * (p as i64 + 1) / points as i64).max(a + 1);
                    let (before, inside, after) = span(samples.len(), a, b);
                    let (mut mn, mut mx) = if before + after > 0 {
                        (0.0f32, 0.0f32)
                    } else {
                        (f32::INFINITY, f32::NEG_INFINITY)
                    };
                    for &s in &samples[inside] {
                        mn = mn.min(s);
                        mx = mx.max(s);
                    }
                    let o = 2 * (c * points + p);
                    out.waveform_stereo[o] = mn.clamp(-1.0, 1.0);
                    out.waveform_stereo[o + 1] = mx.clamp(-1.0, 1.0);
                }
            }
        }

        // Loudness over the 400 ms window centred on the frame (zero outside the file).
        let (l0, l1) = (centre - loud_half, centre + loud_half);
        let count = (l1 - l0).max(1) as f64;
        let window_mean = |q: &mut VecDeque<f32>| -> f64 {
            let q = q.make_contiguous();
            let (_, inside, _) = span(q.len(), l0, l1);
            f64::from(sum(&q[inside])) / count
        };
        let k_mean = window_mean(&mut self.kpow);
        let loudness_lufs = if k_mean > 1e-12 && k_mean.is_finite() {
            (-0.691 + 10.0 * k_mean.log10()) as f32
        } else {
            -120.0
        };
        let level = |ms: f64| {
            // +3.01 dB: a full-scale sine (mean square 0.5) reads 0 dBFS.
            let db = if ms > 1e-20 {
                10.0 * ms.log10() + 3.0103
            } else {
                -200.0
            };
            level_in_range(db as f32, 0.0, self.config.floor_db)
        };
        let level_left = level(window_mean(&mut self.left_sq));
        let level_right = level(window_mean(&mut self.right_sq));

        // Beats.
        let half_frame = 0.5 / self.fps;
        let (mut onset, mut beat, mut beat_pulse, mut bpm) = (0.0, 0.0, 0.0, 0.0);
        if let Some(o) = &self.onset {
            onset = o.strength(time, half_frame.max(0.012));
            if o.beats
                .iter()
                .any(|&b| b >= time - half_frame && b < time + half_frame)
            {
                beat = 1.0;
            }
            if let Some(&last) = o.beats.iter().rev().find(|&&b| b < time + half_frame) {
                beat_pulse = (-(time - last).max(0.0) / BEAT_PULSE_S).exp() as f32;
            }
            bpm = o.bpm(time + half_frame);
        }

        Ok(FrameFeatures {
            time: time as f32,
            frame: k.saturating_sub(self.warmup) as u32,
            rms,
            peak,
            loudness_lufs,
            level_left,
            level_right,
            onset,
            beat,
            beat_pulse,
            bpm,
            bass: ranges[0],
            mid: ranges[1],
            treble: ranges[2],
            _pad: [0.0; 2],
        })
    }

    /// Feeds every complete onset window in the ring to the tracker.
    fn run_onsets(&mut self) {
        let end = self.ring_start + self.ring.len() as i64;
        let Some(o) = self.onset.as_mut() else { return };
        while o.next_start + o.window as i64 <= end || (self.eof && o.next_start < end) {
            let start = o.next_start;
            let (ring, ring_start) = (&self.ring, self.ring_start);
            o.push_window((0..o.window as i64).map(|i| sample_at(ring, ring_start, start + i)));
        }
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
        let full = self.onset.is_some();
        if first > expected {
            let gap = (first - expected) as usize;
            self.ring.extend(std::iter::repeat_n(0.0, gap));
            if full {
                self.kpow.extend(std::iter::repeat_n(0.0, gap));
                self.left_sq.extend(std::iter::repeat_n(0.0, gap));
                self.right_sq.extend(std::iter::repeat_n(0.0, gap));
                self.left.extend(std::iter::repeat_n(0.0, gap));
                self.right.extend(std::iter::repeat_n(0.0, gap));
            }
        }
        if full && self.kfilters.len() != ch {
            self.kfilters = (0..ch).map(|_| KWeighting::new(self.sample_rate)).collect();
        }
        let skip = (expected - first).max(0) as usize;
        let scale = 1.0 / ch as f32;
        for frame in block.samples.chunks_exact(ch).skip(skip) {
            let clean = |s: f32| if s.is_finite() { s } else { 0.0 };
            self.ring
                .push_back(frame.iter().map(|&s| clean(s)).sum::<f32>() * scale);
            if full {
                let mut k = 0.0f32;
                for (c, (&s, filter)) in frame.iter().zip(self.kfilters.iter_mut()).enumerate() {
                    let y = filter.process(clean(s));
                    k += channel_weight(c, ch) * y * y;
                }
                self.kpow.push_back(k);
                let l = clean(frame[0]);
                let r = clean(*frame.get(1).unwrap_or(&frame[0]));
                self.left_sq.push_back(l * l);
                self.right_sq.push_back(r * r);
                self.left.push_back(l);
                self.right.push_back(r);
            }
        }
        Ok(())
    }
}

/// Maps `db` to 0..=1: `floor` dB (negative) below `reference` is 0, `reference` is 1.
fn level_in_range(db: f32, reference: f32, floor: f32) -> f32 {
    let v = (db - reference - floor) / -floor;
    if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Sum with eight independent accumulators (vectorises; float addition is not associative, so
/// the compiler will not do it for a plain `iter().sum()`).
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

fn sample_at(ring: &VecDeque<f32>, ring_start: i64, index: i64) -> f32 {
    let i = index - ring_start;
    if i < 0 {
        return 0.0;
    }
    ring.get(i as usize).copied().unwrap_or(0.0)
}

/// [`measure_reference`], remembered per file (path, size, modification time), frame rate and
/// settings for the life of the process: an interactive preview opens many analysers on one
/// track (one per seek) and must not decode the whole track for each.
fn remembered_reference(
    decoder: &AudioDecoder,
    fps: f64,
    config: &AnalysisConfig,
) -> Result<f32, AudioError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};
    type Key = (std::path::PathBuf, u64, std::time::SystemTime, u64, String);
    static SEEN: Mutex<Option<HashMap<Key, f32>>> = Mutex::new(None);
    const MAX_REMEMBERED: usize = 64;
    let path = decoder.path();
    let key = decoder
        .reads_file()
        .then(|| std::fs::metadata(path).ok())
        .flatten()
        .and_then(|m| {
            Some((
                path.to_owned(),
                m.len(),
                m.modified().ok()?,
                fps.to_bits(),
                format!("{config:?}"),
            ))
        });
    let Some(key) = key else {
        // Bytes given in memory, or a file we cannot stat: measure every time.
        return measure_reference(decoder, fps, config);
    };
    if let Some(db) = SEEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|seen| seen.get(&key).copied())
    {
        return Ok(db);
    }
    let db = measure_reference(decoder, fps, config)?;
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    let seen = seen.get_or_insert_with(HashMap::new);
    if seen.len() >= MAX_REMEMBERED {
        seen.clear();
    }
    seen.insert(key, db);
    Ok(db)
}

/// The normalisation pre-pass: decodes the whole file once more and returns the `percentile`
/// (over frames that are not digital silence) of each frame's loudest band level, in dB.
fn measure_reference(
    decoder: &AudioDecoder,
    fps: f64,
    config: &AnalysisConfig,
) -> Result<f32, AudioError> {
    const LO_DB: f32 = -150.0;
    const STEP_DB: f32 = 0.1;
    const BINS: usize = 2000; // -150 .. +50 dB
    log::info!(
        "{}: measuring levels over the whole track for normalisation ({:.0} s of audio)",
        decoder.path().display(),
        decoder.info().duration_secs()
    );
    let started = std::time::Instant::now();
    let pass = decoder.reopen()?;
    // The same window as the render's (levels depend on it), on a sparser grid of frames.
    let mode = Mode {
        window_len: window_len_for(decoder.info().sample_rate, fps, config.min_hz),
        full: false,
        reference_db: 0.0,
    };
    let step = (fps / PREPASS_FPS).floor().max(1.0);
    let mut a = FrameAnalyzer::with_mode(pass, fps / step, 0.0, None, config.clone(), mode)?;
    let mut histogram = vec![0u64; BINS];
    let mut counted = 0u64;
    let mut scratch = a.buffers();
    while a.next < a.warmup + a.frames {
        a.analyse_next(&mut scratch)?;
        let loudest = a.band_db.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if loudest > -100.0 {
            let bin = ((loudest - LO_DB) / STEP_DB).clamp(0.0, (BINS - 1) as f32) as usize;
            histogram[bin] += 1;
            counted += 1;
        }
    }
    log::debug!(
        "normalisation pre-pass took {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if counted == 0 {
        return Ok(0.0);
    }
    let target = ((f64::from(config.percentile) / 100.0) * counted as f64).ceil() as u64;
    let mut seen = 0u64;
    for (i, &n) in histogram.iter().enumerate() {
        seen += n;
        if seen >= target.max(1) {
            return Ok(LO_DB + (i as f32 + 0.5) * STEP_DB);
        }
    }
    Ok(0.0)
}
