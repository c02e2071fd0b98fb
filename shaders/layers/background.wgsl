// #import shared/layer.wgsl
// #import shared/color.wgsl
//
// Background layer: a solid colour or a linear gradient across the frame. Gradients interpolate
// between the sRGB-encoded colours (as CSS gradients do).
// Host mirror: crates/gpu/src/layers/background.rs (`BackgroundParams`).
//
// Uniforms are read in the vertex stage only and reach the fragments as varyings: software
// rasterisers (lavapipe) pay for every per-fragment uniform load, and the gradient parameter is
// linear in screen space, so the rasteriser interpolates it for free.

// True when this layer is opaque and drawn first, through a non-sRGB view of the target: the
// encoded colour is then stored as is (no per-pixel transfer function, no blending).
override OUTPUT_ENCODED: bool = false;

struct BackgroundParams {
    // sRGB-encoded colours, straight alpha.
    color_a: vec4<f32>,
    color_b: vec4<f32>,
    // Unit gradient direction in pixel space (y down); colour_a at the start, colour_b at the end.
    direction: vec2<f32>,
    // 0 = solid colour_a, 1 = linear gradient.
    mode: u32,
    opacity: f32,
};

@group(1) @binding(0) var<uniform> params: BackgroundParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    // Gradient position: 0 at colour_a, 1 at colour_b (unclamped; clamped per fragment).
    @location(0) t: f32,
    @location(1) @interpolate(flat) color_a: vec4<f32>,
    @location(2) @interpolate(flat) color_b: vec4<f32>,
    @location(3) @interpolate(flat) opacity: f32,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VsOut {
    // One triangle covering the frame: clip-space corners (-1,-1), (3,-1), (-1,3).
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    let clip = uv * 2.0 - 1.0;
    let pixel = vec2<f32>(0.5 * (clip.x + 1.0), 0.5 * (1.0 - clip.y)) * frame.resolution;
    var out: VsOut;
    out.position = vec4<f32>(clip, 0.0, 1.0);
    let centred = pixel - 0.5 * frame.resolution;
    // Half the frame's extent along the direction, so t spans 0..1 corner to corner.
    let half_extent = max(0.5 * dot(abs(params.direction), frame.resolution), 1e-6);
    out.t = 0.5 + 0.5 * dot(centred, params.direction) / half_extent;
    out.color_a = params.color_a;
    out.color_b = select(params.color_a, params.color_b, params.mode == 1u);
    out.opacity = params.opacity;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let mixed = mix(in.color_a, in.color_b, clamp(in.t, 0.0, 1.0));
    // Dithered before the 8-bit target quantises it: a slow gradient would otherwise band.
    let c = dither_encoded(mixed.rgb, in.position.xy);
    if OUTPUT_ENCODED {
        return vec4<f32>(c, 1.0);
    }
    let alpha = mixed.a * in.opacity;
    return vec4<f32>(srgb_to_linear(max(c, vec3<f32>(0.0))) * alpha, alpha);
}
