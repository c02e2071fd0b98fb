// #import shared/fullscreen.wgsl
// #import shared/frame.wgsl
//
// Spectrum bars: one rounded, anti-aliased bar per cell of the layer's rectangle.
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

// Signed distance from p to a box of half-size `half` with corner radius r, centred at the origin.
fn sd_round_box(p: vec2<f32>, half: vec2<f32>, r: f32) -> f32 {
    let q = abs(p) - half + vec2<f32>(r);
    return length(max(q, vec2<f32>(0.0))) + min(max(q.x, q.y), 0.0) - r;
}

@fragment
fn fs_main(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    let size = params.rect.zw;
    let local = position.xy - params.rect.xy;
    if any(local < vec2<f32>(-1.0)) || any(local > size + vec2<f32>(1.0)) || params.count == 0u {
        return vec4<f32>(0.0);
    }
    let count = f32(params.count);
    let cell = size.x / count;
    let index = clamp(floor(local.x / cell), 0.0, count - 1.0);
    let level = clamp(band_level((index + 0.5) / count), 0.0, 1.0);
    let bar_width = max(cell * (1.0 - params.gap), 1.0);
    var height = max(level * size.y, params.min_height);
    var centre = vec2<f32>((index + 0.5) * cell, size.y - 0.5 * height);
    var t = (size.y - local.y) / size.y;
    if params.mode == 1u {
        centre.y = 0.5 * size.y;
        t = abs(local.y - 0.5 * size.y) / (0.5 * size.y);
    }
    let half = vec2<f32>(0.5 * bar_width, 0.5 * height);
    let radius = min(params.radius * bar_width, min(half.x, half.y));
    let d = sd_round_box(local - centre, half, radius);
    let coverage = clamp(0.5 - d, 0.0, 1.0);
    let color = mix(params.color_a, params.color_b, clamp(t, 0.0, 1.0));
    let alpha = color.a * coverage * params.opacity;
    return vec4<f32>(color.rgb * alpha, alpha);
}
