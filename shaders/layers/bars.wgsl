// #import shared/frame.wgsl
//
// Spectrum bars: one instanced quad per bar, sized in the vertex stage from the frame's band
// levels, with a rounded, anti-aliased edge from a signed distance in the fragment stage.
// Only the bars' own pixels (plus a one-pixel margin) are shaded.
// Host mirror: crates/gpu/src/layers.rs (`BarsParams`).

struct BarsParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Linear-light colours, straight alpha: colour_a at the base of a bar, colour_b at full height.
    color_a: vec4<f32>,
    color_b: vec4<f32>,
    count: u32,
    // Fraction of each cell left empty between bars (0..0.95).
    gap: f32,
    // Corner radius as a fraction of the bar width (0..0.5).
    radius: f32,
    // 0 = bars grow up from the bottom edge, 1 = mirrored about the horizontal centre line.
    mode: u32,
    opacity: f32,
    // Minimum bar height in pixels, so silent bands still show.
    min_height: f32,
    _pad0: f32,
    _pad1: f32,
};

@group(1) @binding(0) var<uniform> params: BarsParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    // Pixel offset from the bar's centre.
    @location(0) local: vec2<f32>,
    // Signed height coordinate: 0 at the base (or centre line), 1 at the rectangle's edge.
    @location(1) height_t: f32,
    // Half size of the bar and its corner radius, in pixels.
    @location(2) @interpolate(flat) half_radius: vec3<f32>,
    @location(3) @interpolate(flat) color_a: vec4<f32>,
    @location(4) @interpolate(flat) color_b: vec4<f32>,
    // x: opacity, y: 1 for mirrored bars.
    @location(5) @interpolate(flat) opacity_mirror: vec2<f32>,
};

// Signed distance from p to a box of half-size `half` with corner radius r, centred at the origin.
fn sd_round_box(p: vec2<f32>, half: vec2<f32>, r: f32) -> f32 {
    let q = abs(p) - half + vec2<f32>(r);
    return length(max(q, vec2<f32>(0.0))) + min(max(q.x, q.y), 0.0) - r;
}

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @builtin(instance_index) bar: u32) -> VsOut {
    let rect = params.rect;
    let count = f32(max(params.count, 1u));
    let cell = rect.z / count;
    let index = f32(bar);
    let level = clamp(band_level((index + 0.5) / count), 0.0, 1.0);
    let bar_width = max(cell * (1.0 - params.gap), 1.0);
    let height = min(max(level * rect.w, params.min_height), rect.w);
    let mirrored = params.mode == 1u;
    let base_y = rect.y + rect.w;
    let centre_line = rect.y + 0.5 * rect.w;
    let centre = vec2<f32>(
        rect.x + (index + 0.5) * cell,
        select(base_y - 0.5 * height, centre_line, mirrored),
    );
    let half = vec2<f32>(0.5 * bar_width, 0.5 * height);
    // Two triangles: corners (-1,-1) (1,-1) (-1,1), (-1,1) (1,-1) (1,1); one pixel of margin
    // around the bar leaves room for the anti-aliased edge.
    let corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(-1.0, 1.0),
        vec2<f32>(-1.0, 1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
    );
    let local = corners[vertex % 6u] * (half + vec2<f32>(1.0));
    let pixel = centre + local;
    var out: VsOut;
    out.position = vec4<f32>(
        2.0 * pixel.x / frame.resolution.x - 1.0,
        1.0 - 2.0 * pixel.y / frame.resolution.y,
        0.0,
        1.0,
    );
    out.local = local;
    out.height_t = select((base_y - pixel.y) / rect.w, (pixel.y - centre_line) / (0.5 * rect.w), mirrored);
    out.half_radius = vec3<f32>(half, min(params.radius * bar_width, min(half.x, half.y)));
    out.color_a = params.color_a;
    out.color_b = params.color_b;
    out.opacity_mirror = vec2<f32>(params.opacity, select(0.0, 1.0, mirrored));
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = sd_round_box(in.local, in.half_radius.xy, in.half_radius.z);
    let coverage = clamp(0.5 - d, 0.0, 1.0);
    let t = clamp(select(in.height_t, abs(in.height_t), in.opacity_mirror.y > 0.5), 0.0, 1.0);
    let color = mix(in.color_a, in.color_b, t);
    let alpha = color.a * coverage * in.opacity_mirror.x;
    return vec4<f32>(color.rgb * alpha, alpha);
}
