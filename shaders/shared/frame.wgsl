// #import shared/features.wgsl
//
// Per-frame inputs shared by every layer shader.
// Host mirror: crates/gpu/src/frame.rs (`FrameUniforms`); a test checks that sizes and offsets agree.

struct FrameUniforms {
    // Output size in pixels.
    resolution: vec2<f32>,
    // Seconds since the start of the audio file.
    time: f32,
    // Seconds of the whole render.
    duration: f32,
    // Frame number on the audio's frame grid: round(time * fps), counted from the start of the
    // audio file (the same time gives the same number in a render, a preview or a segment).
    frame_index: u32,
    // Offsets (in f32 elements) of this frame's arrays in `spectrum`: `band_count` smoothed band
    // levels, `band_count` peak-hold levels, `waveform_points` (min, max) pairs.
    spectrum_offset: u32,
    band_count: u32,
    peaks_offset: u32,
    waveform_offset: u32,
    waveform_points: u32,
    _pad0: u32,
    _pad1: u32,
    features: FrameFeatures,
};

@group(0) @binding(0) var<uniform> frame: FrameUniforms;
// Per-frame arrays for a chunk of frames (see the offsets above).
@group(0) @binding(1) var<storage, read> spectrum: array<f32>;

// Level of the spectrum at `pos` in 0..1 (0 = lowest band, 1 = highest), interpolated between bands.
fn band_level(pos: f32) -> f32 {
    return interpolated(frame.spectrum_offset, pos);
}

// Peak-hold level at `pos`, like `band_level`.
fn peak_level(pos: f32) -> f32 {
    return interpolated(frame.peaks_offset, pos);
}

fn interpolated(offset: u32, pos: f32) -> f32 {
    let n = frame.band_count;
    if n == 0u {
        return 0.0;
    }
    let x = clamp(pos * f32(n) - 0.5, 0.0, f32(n - 1u));
    let i0 = u32(floor(x));
    let i1 = min(i0 + 1u, n - 1u);
    let a = spectrum[offset + i0];
    let b = spectrum[offset + i1];
    return mix(a, b, x - f32(i0));
}
