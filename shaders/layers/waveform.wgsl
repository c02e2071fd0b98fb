// #import shared/layer.wgsl
//
// Oscilloscope / waveform of the frame's own samples: an anti-aliased line (instanced capsule
// segments) with an optional glow, or filled between the centre line and the signal; mono, or
// stereo split (left in the top half, right in the bottom half).
// Host mirror: crates/gpu/src/layers/waveform.rs (`WaveformParams`).

struct WaveformParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Linear-light colours, straight alpha.
    color: vec4<f32>,
    glow_color: vec4<f32>,
    opacity: f32,
    // Line thickness in pixels.
    thickness: f32,
    // Glow radius in pixels (0 = none).
    glow: f32,
    // Amplitude multiplier (1 = full scale fills the half-height).
    gain: f32,
    // 0 = line, 1 = filled.
    mode: u32,
    // 0 = mono mix, 1 = stereo split.
    stereo: u32,
    // Segments (line) or columns (filled) per channel.
    segments: u32,
    _pad0: f32,
};

@group(1) @binding(0) var<uniform> params: WaveformParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) pixel: vec2<f32>,
    // Segment end points (line mode) in pixels.
    @location(1) @interpolate(flat) a: vec2<f32>,
    @location(2) @interpolate(flat) b: vec2<f32>,
    // x: half thickness, y: glow radius, z: 1 in filled mode.
    @location(3) @interpolate(flat) style: vec3<f32>,
};

fn point(channel: u32, k: u32, segments: u32, top: f32, half_h: f32) -> vec2<f32> {
    let pos = f32(k) / f32(segments);
    let v = clamp(waveform_at(pos, channel) * params.gain, -1.0, 1.0);
    return vec2<f32>(params.rect.x + pos * params.rect.z, top + half_h - v * half_h);
}

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @builtin(instance_index) instance: u32) -> VsOut {
    let segments = max(params.segments, 1u);
    let stereo = params.stereo == 1u;
    let side = instance / segments;
    let k = instance % segments;
    let lane_h = select(params.rect.w, 0.5 * params.rect.w, stereo);
    let top = params.rect.y + f32(side) * lane_h;
    let half_h = 0.5 * lane_h;
    let channel = select(0u, side + 1u, stereo);
    let a = point(channel, k, segments, top, half_h);
    let b = point(channel, k + 1u, segments, top, half_h);
    let half_t = 0.5 * params.thickness;
    let reach = half_t + params.glow + 1.0;
    let corner = quad_corner(vertex);
    var pixel: vec2<f32>;
    if params.mode == 1u {
        // Filled: the column between the centre line and the signal.
        let centre_y = top + half_h;
        let lo = min(centre_y, min(a.y, b.y)) - 1.0;
        let hi = max(centre_y, max(a.y, b.y)) + 1.0;
        let x = mix(a.x, b.x, 0.5 + 0.5 * corner.x);
        pixel = vec2<f32>(x, mix(lo, hi, 0.5 + 0.5 * corner.y));
    } else {
        let d = b - a;
        let len = length(d);
        let along = select(vec2<f32>(1.0, 0.0), d / len, len > 1e-4);
        let normal = vec2<f32>(-along.y, along.x);
        let t = 0.5 + 0.5 * corner.x;
        pixel = mix(a - along * reach, b + along * reach, t) + normal * corner.y * reach;
    }
    var out: VsOut;
    out.position = pixel_to_clip(pixel);
    out.pixel = pixel;
    out.a = a;
    out.b = b;
    out.style = vec3<f32>(half_t, params.glow, f32(params.mode));
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    if in.style.z > 0.5 {
        // Filled: inside between the centre line and the interpolated signal.
        let t = clamp((in.pixel.x - in.a.x) / max(in.b.x - in.a.x, 1e-4), 0.0, 1.0);
        let signal_y = mix(in.a.y, in.b.y, t);
        let lanes = select(1.0, 2.0, params.stereo == 1u);
        let lane_h = params.rect.w / lanes;
        let lane = floor((in.pixel.y - params.rect.y) / lane_h);
        let centre_y = params.rect.y + (clamp(lane, 0.0, lanes - 1.0) + 0.5) * lane_h;
        let d = abs(in.pixel.y - 0.5 * (centre_y + signal_y)) - 0.5 * abs(signal_y - centre_y) - 0.5;
        return premultiply(vec4<f32>(params.color.rgb, params.color.a * coverage(d)), params.opacity);
    }
    let d = sd_segment(in.pixel, in.a, in.b) - in.style.x;
    let line = premultiply(vec4<f32>(params.color.rgb, params.color.a * coverage(d)), 1.0);
    var glow = vec4<f32>(0.0);
    if in.style.y > 0.0 {
        let g = exp(-3.0 * max(d, 0.0) / in.style.y) * params.glow_color.a;
        glow = vec4<f32>(params.glow_color.rgb * g, g);
    }
    return (line + glow * (1.0 - line.a)) * params.opacity;
}
