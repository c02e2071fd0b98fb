// #import shared/layer.wgsl
//
// Radial spectrum: one instanced quad per bar, arranged around a circle and pointing outwards,
// lengths from the frame's band levels, rounded anti-aliased ends from a signed distance.
// A cover image in the middle is a separate image layer (see crates/renderer/src/layers.rs).
// Host mirror: crates/gpu/src/layers/radial.rs (`RadialParams`).

struct RadialParams {
    // Circle centre in pixels.
    centre: vec2<f32>,
    // Inner radius and the length of a full-level bar, pixels.
    inner: f32,
    length: f32,
    // Linear-light colours, straight alpha: colour_a at the inner end, colour_b at full length.
    color_a: vec4<f32>,
    color_b: vec4<f32>,
    count: u32,
    // Fraction of each angular cell left empty (0..0.95).
    gap: f32,
    // Angle of the first bar, radians clockwise from 12 o'clock.
    rotation: f32,
    opacity: f32,
    // 1 = spectrum mirrored (lowest band at the top, highest at the bottom, on both sides).
    symmetric: u32,
    // Minimum bar length, pixels.
    min_length: f32,
    // Corner radius as a fraction of the bar width (0..0.5).
    radius: f32,
    _pad0: f32,
};

@group(1) @binding(0) var<uniform> params: RadialParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) t: f32,
    @location(2) @interpolate(flat) half_radius: vec3<f32>,
    @location(3) @interpolate(flat) color_a: vec4<f32>,
    @location(4) @interpolate(flat) color_b: vec4<f32>,
    @location(5) @interpolate(flat) opacity: f32,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @builtin(instance_index) bar: u32) -> VsOut {
    let count = f32(max(params.count, 1u));
    let index = f32(bar);
    var pos = (index + 0.5) / count;
    if params.symmetric == 1u {
        pos = 1.0 - abs(2.0 * pos - 1.0);
    }
    let level = clamp(band_level(pos), 0.0, 1.0);
    let len = max(level * params.length, params.min_length);
    let angle = params.rotation + 6.2831853 * (index + 0.5) / count;
    let outward = vec2<f32>(sin(angle), -cos(angle));
    let across = vec2<f32>(cos(angle), sin(angle));
    let width = max(6.2831853 * params.inner / count * (1.0 - params.gap), 1.0);
    let half = vec2<f32>(0.5 * width, 0.5 * len);
    let corner = quad_corner(vertex);
    let local = corner * (half + vec2<f32>(1.0));
    let centre = params.centre + outward * (params.inner + 0.5 * len);
    // local.x runs across the bar, local.y outwards.
    let pixel = centre + across * local.x + outward * local.y;
    var out: VsOut;
    out.position = pixel_to_clip(pixel);
    out.local = local;
    out.t = (0.5 * len + local.y) / max(params.length, 1.0);
    out.half_radius = vec3<f32>(half, min(params.radius * width, min(half.x, half.y)));
    out.color_a = params.color_a;
    out.color_b = params.color_b;
    out.opacity = params.opacity;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = sd_round_box(in.local, in.half_radius.xy, in.half_radius.z);
    let color = mix(in.color_a, in.color_b, clamp(in.t, 0.0, 1.0));
    return premultiply(vec4<f32>(color.rgb, color.a * coverage(d)), in.opacity);
}
