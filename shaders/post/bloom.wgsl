// #import shared/layer.wgsl
//
// Glow / bloom (post effect), in three steps:
//   fs_extract  the frame so far -> quarter-resolution bright parts (soft threshold), linear light;
//   fs_blur     separable Gaussian, run horizontally then vertically (ping-pong textures);
//   fs_main     the blurred light added over the frame (premultiplied with alpha 0 = additive).
// Host mirror: crates/gpu/src/layers/bloom.rs (`BloomParams`).

struct BloomParams {
    // Linear-light level above which pixels glow, and the width of the soft knee.
    threshold: f32,
    knee: f32,
    // Strength of the added glow.
    intensity: f32,
    opacity: f32,
    // Blur step in source texels: (1, 0) horizontal, (0, 1) vertical (set per blur pass).
    direction: vec2<f32>,
    // Texel size of the texture being read.
    texel: vec2<f32>,
};

@group(1) @binding(0) var<uniform> params: BloomParams;
@group(1) @binding(1) var source: texture_2d<f32>;
@group(1) @binding(2) var source_sampler: sampler;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VsOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: VsOut;
    out.position = vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
    out.uv = vec2<f32>(uv.x, 1.0 - uv.y);
    return out;
}

@fragment
fn fs_extract(in: VsOut) -> @location(0) vec4<f32> {
    // Four bilinear taps = a 4x4 box of the full-resolution frame.
    let t = params.texel;
    var c = vec3<f32>(0.0);
    c += textureSampleLevel(source, source_sampler, in.uv + vec2<f32>(-t.x, -t.y), 0.0).rgb;
    c += textureSampleLevel(source, source_sampler, in.uv + vec2<f32>(t.x, -t.y), 0.0).rgb;
    c += textureSampleLevel(source, source_sampler, in.uv + vec2<f32>(-t.x, t.y), 0.0).rgb;
    c += textureSampleLevel(source, source_sampler, in.uv + vec2<f32>(t.x, t.y), 0.0).rgb;
    c *= 0.25;
    let brightness = max(c.r, max(c.g, c.b));
    // Soft knee: quadratic ramp from threshold - knee to threshold + knee.
    let k = max(params.knee, 1e-4);
    let soft = clamp(brightness - params.threshold + k, 0.0, 2.0 * k);
    let ramp = soft * soft / (4.0 * k);
    let amount = max(ramp, brightness - params.threshold) / max(brightness, 1e-4);
    return vec4<f32>(c * amount, 1.0);
}

@fragment
fn fs_blur(in: VsOut) -> @location(0) vec4<f32> {
    // 9-tap Gaussian folded into 5 bilinear taps.
    let step = params.direction * params.texel;
    var c = textureSampleLevel(source, source_sampler, in.uv, 0.0).rgb * 0.2270270270;
    c += textureSampleLevel(source, source_sampler, in.uv + step * 1.3846153846, 0.0).rgb * 0.3162162162;
    c += textureSampleLevel(source, source_sampler, in.uv - step * 1.3846153846, 0.0).rgb * 0.3162162162;
    c += textureSampleLevel(source, source_sampler, in.uv + step * 3.2307692308, 0.0).rgb * 0.0702702703;
    c += textureSampleLevel(source, source_sampler, in.uv - step * 3.2307692308, 0.0).rgb * 0.0702702703;
    return vec4<f32>(c, 1.0);
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let glow = textureSampleLevel(source, source_sampler, in.uv, 0.0).rgb;
    // Alpha 0 with premultiplied "over" blending adds the glow to what is below.
    return vec4<f32>(glow * params.intensity * params.opacity, 0.0);
}
