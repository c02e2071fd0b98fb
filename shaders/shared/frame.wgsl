// Per-frame inputs shared by every layer shader.
// Host mirror: crates/gpu/src/frame.rs (`FrameUniforms`); a test checks that sizes and offsets agree.

struct FrameUniforms {
    // Output size in pixels.
    resolution: vec2<f32>,
    // Seconds since the start of the audio file.
    time: f32,
    // Seconds of the whole render.
    duration: f32,
    // Frame index from the start of the render.
    frame_index: u32,
    // Offset (in f32 elements) of this frame's band levels in `spectrum`.
    spectrum_offset: u32,
    // Number of band levels per frame.
    band_count: u32,
    // RMS of the mono mix around this frame (full-scale sine = 0.707).
    rms: f32,
};

@group(0) @binding(0) var<uniform> frame: FrameUniforms;
// Band levels in 0..1, `band_count` per frame, for a chunk of frames.
@group(0) @binding(1) var<storage, read> spectrum: array<f32>;

// Level of the spectrum at `pos` in 0..1 (0 = lowest band, 1 = highest), interpolated between bands.
fn band_level(pos: f32) -> f32 {
    let n = frame.band_count;
    if n == 0u {
        return 0.0;
    }
    let x = clamp(pos * f32(n) - 0.5, 0.0, f32(n - 1u));
    let i0 = u32(floor(x));
    let i1 = min(i0 + 1u, n - 1u);
    let a = spectrum[frame.spectrum_offset + i0];
    let b = spectrum[frame.spectrum_offset + i1];
    return mix(a, b, x - f32(i0));
}
