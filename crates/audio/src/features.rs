//! The per-frame feature record shared with the shaders.

use bytemuck::{Pod, Zeroable};

/// Scalar features of one video frame.
///
/// Mirrored by `FrameFeatures` in shaders/shared/features.wgsl (a test in crates/gpu compares
/// sizes and offsets with naga's layout). All levels are in 0..=1 unless noted; everything is
/// finite (silence gives zeros).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default, Pod, Zeroable)]
pub struct FrameFeatures {
    /// Time of the frame in the audio file, seconds.
    pub time: f32,
    /// Index of the frame counted from the first analysed frame (warm-up frames included).
    pub frame: u32,
    /// RMS of the mono mix over the spectrum window (full-scale sine = 0.707).
    pub rms: f32,
    /// Largest absolute sample of the mono mix in the spectrum window.
    pub peak: f32,
    /// Momentary loudness (BS.1770 K-weighting, 400 ms window centred on the frame), LUFS;
    /// -120 for silence.
    pub loudness_lufs: f32,
    /// RMS level of the left / right channel over the same 400 ms, mapped from the floor
    /// (0) to 0 dBFS (1). Mono input gives the same value twice.
    pub level_left: f32,
    pub level_right: f32,
    /// Spectral-flux onset strength around the frame, 0..=1 relative to the track so far.
    pub onset: f32,
    /// 1 when a beat falls within half a frame of this frame's time, else 0.
    pub beat: f32,
    /// 1 at a beat, decaying exponentially (120 ms) until the next.
    pub beat_pulse: f32,
    /// Current tempo estimate in beats per minute (0 until two beats were seen).
    pub bpm: f32,
    /// Smoothed energies of 20-250 Hz, 250 Hz-4 kHz and 4-16 kHz, normalised like the bands.
    pub bass: f32,
    pub mid: f32,
    pub treble: f32,
    pub _pad: [f32; 2],
}
