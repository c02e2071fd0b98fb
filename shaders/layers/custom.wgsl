// #import shared/layer.wgsl
// #import shared/color.wgsl
// #import shared/palettes.wgsl
//
// Epilogue of a custom layer. The user's file comes FIRST in the composed module (WGSL
// declarations may appear in any order), so naga's line and column numbers are the user's own.
// The user writes:
//
//     fn shade(input: ShadeInput) -> vec4<f32>
//
// returning an sRGB-encoded colour with straight alpha (as in CSS or Shadertoy). Available:
// `frame` (FrameUniforms: resolution, time, duration, frame_index, features: bass, mid, treble,
// beat, beat_pulse, onset, rms, peak, loudness_lufs, level_left, level_right, bpm), `band_level(pos)`,
// `peak_level(pos)`, `waveform_at(pos, channel)`, `value(i)` (the layer's `values`, i in 0..8),
// `srgb_to_linear`, `palette(index, t)`, `sd_round_box`, `sd_segment`, `coverage`.

struct CustomParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // The layer's `values` (reactors allowed): value(0)..value(7).
    values: array<vec4<f32>, 2>,
    opacity: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
};

struct ShadeInput {
    // 0..1 across the layer's rectangle (origin top-left).
    uv: vec2<f32>,
    // Pixel position in the frame (origin top-left, pixel centres at .5).
    pixel: vec2<f32>,
    // The rectangle's size in pixels.
    size: vec2<f32>,
};

@group(1) @binding(0) var<uniform> custom: CustomParams;

fn value(i: u32) -> f32 {
    let v = custom.values[min(i, 7u) / 4u];
    return v[min(i, 7u) % 4u];
}

struct CustomVsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> CustomVsOut {
    let unit = 0.5 * quad_corner(vertex) + vec2<f32>(0.5);
    var out: CustomVsOut;
    out.position = pixel_to_clip(custom.rect.xy + unit * custom.rect.zw);
    out.uv = unit;
    return out;
}

@fragment
fn fs_main(in: CustomVsOut) -> @location(0) vec4<f32> {
    let c = shade(ShadeInput(in.uv, in.position.xy, custom.rect.zw));
    let rgb = srgb_to_linear(clamp(c.rgb, vec3<f32>(0.0), vec3<f32>(1.0)));
    return premultiply(vec4<f32>(rgb, clamp(c.a, 0.0, 1.0)), custom.opacity);
}
