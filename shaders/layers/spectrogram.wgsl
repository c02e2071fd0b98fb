// #import shared/layer.wgsl
// #import shared/color.wgsl
// #import shared/palettes.wgsl
//
// Scrolling spectrogram. History lives on the GPU in a ring texture (R16Float, one column per
// frame, one row per band): every frame, `fs_update` writes the current band levels into column
// `frame_index % columns` (a one-column scissor), then `fs_main` draws the ring with the newest
// column at the right edge, coloured by a palette.
// Host mirror: crates/gpu/src/layers/spectrogram.rs (`SpectrogramParams`).

struct SpectrogramParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    opacity: f32,
    // Width of the ring texture (frames of history shown).
    columns: u32,
    // 0 viridis, 1 magma, 2 inferno, 3 grey.
    palette: u32,
    // Level curve: shown = level^gamma.
    gamma: f32,
};

@group(1) @binding(0) var<uniform> params: SpectrogramParams;
@group(1) @binding(1) var history: texture_2d<f32>;
@group(1) @binding(2) var history_sampler: sampler;

// ---- update pass (target: the ring texture, one column scissored)

struct UpdateOut {
    @builtin(position) position: vec4<f32>,
};

@vertex
fn vs_update(@builtin(vertex_index) index: u32) -> UpdateOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: UpdateOut;
    out.position = vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
    return out;
}

@fragment
fn fs_update(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    // Row r of the ring holds band r (row 0 = lowest band).
    let level = spectrum[frame.spectrum_offset + min(u32(position.y), frame.band_count - 1u)];
    return vec4<f32>(level, 0.0, 0.0, 1.0);
}

// ---- draw pass

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) unit: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VsOut {
    let rect = params.rect;
    let unit = 0.5 * quad_corner(vertex) + vec2<f32>(0.5);
    var out: VsOut;
    out.position = pixel_to_clip(rect.xy + unit * rect.zw);
    out.unit = unit;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let columns = f32(max(params.columns, 1u));
    let newest = f32(frame.frame_index % max(params.columns, 1u));
    // Right edge = the newest column; the sampler repeats in u, so the ring wraps seamlessly.
    let age = (1.0 - in.unit.x) * (columns - 1.0);
    let u = (newest + 0.5 - age) / columns;
    // Lowest band at the bottom.
    let v = 1.0 - in.unit.y;
    let level = clamp(textureSampleLevel(history, history_sampler, vec2<f32>(u, v), 0.0).r, 0.0, 1.0);
    let shown = pow(level, max(params.gamma, 0.01));
    let c = srgb_to_linear(palette(params.palette, shown));
    return premultiply(vec4<f32>(c, 1.0), params.opacity);
}
