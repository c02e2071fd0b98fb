// #import shared/layer.wgsl
//
// Progress bar: a rounded track with a fill up to `value` (the render's progress by default).
// Host mirror: crates/gpu/src/layers/progress.rs (`ProgressParams`).

struct ProgressParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Linear-light colours, straight alpha.
    track: vec4<f32>,
    fill: vec4<f32>,
    // 0..1 filled fraction.
    value: f32,
    // Corner radius in pixels.
    radius: f32,
    opacity: f32,
    _pad0: f32,
};

@group(1) @binding(0) var<uniform> params: ProgressParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) @interpolate(flat) half_radius_value: vec4<f32>,
    @location(2) @interpolate(flat) track: vec4<f32>,
    @location(3) @interpolate(flat) fill: vec4<f32>,
    @location(4) @interpolate(flat) opacity: f32,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VsOut {
    let rect = params.rect;
    let half = 0.5 * rect.zw;
    let local = quad_corner(vertex) * (half + vec2<f32>(1.0));
    var out: VsOut;
    out.position = pixel_to_clip(rect.xy + half + local);
    out.local = local;
    out.half_radius_value = vec4<f32>(half, min(params.radius, min(half.x, half.y)), clamp(params.value, 0.0, 1.0));
    out.track = params.track;
    out.fill = params.fill;
    out.opacity = params.opacity;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let half = in.half_radius_value.xy;
    let r = in.half_radius_value.z;
    let outer = coverage(sd_round_box(in.local, half, r));
    // The fill is the same rounded shape cut at value (anti-aliased cut).
    let cut = -half.x + 2.0 * half.x * in.half_radius_value.w;
    let filled = clamp(cut - in.local.x + 0.5, 0.0, 1.0);
    let track = premultiply(in.track, outer);
    let fill = premultiply(in.fill, outer * filled);
    return (fill + track * (1.0 - fill.a)) * in.opacity;
}
