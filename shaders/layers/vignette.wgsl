// #import shared/layer.wgsl
//
// Vignette (post effect): darkens (or tints) the frame towards its corners.
// Host mirror: crates/gpu/src/layers/vignette.rs (`VignetteParams`).

struct VignetteParams {
    // Linear-light colour the edges fade to.
    color: vec4<f32>,
    // Alpha reached in the corners (0..1).
    strength: f32,
    // Distance from the centre where darkening starts, as a fraction of the half-diagonal.
    radius: f32,
    // Width of the transition, same unit.
    softness: f32,
    opacity: f32,
};

@group(1) @binding(0) var<uniform> params: VignetteParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    // Position relative to the centre, in half-diagonals.
    @location(0) p: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VsOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    let clip = uv * 2.0 - 1.0;
    var out: VsOut;
    out.position = vec4<f32>(clip, 0.0, 1.0);
    let half = 0.5 * frame.resolution;
    out.p = clip * half / length(half);
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = length(in.p);
    let a = params.strength * smoothstep(params.radius, params.radius + max(params.softness, 1e-3), d);
    return premultiply(vec4<f32>(params.color.rgb, a), params.opacity);
}
