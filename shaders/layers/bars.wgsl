// #import shared/layer.wgsl
//
// Spectrum bars: one instanced quad per bar (and per peak-hold cap), sized in the vertex stage
// from the frame's band levels, with rounded, anti-aliased edges from a signed distance in the
// fragment stage. Only the bars' own pixels (plus a one-pixel margin) are shaded.
// Host mirror: crates/gpu/src/layers/bars.rs (`BarsParams`).

struct BarsParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Linear-light colours, straight alpha: colour_a at the base (or left), colour_b at full
    // height (or right); the peak caps' colour.
    color_a: vec4<f32>,
    color_b: vec4<f32>,
    peak_color: vec4<f32>,
    count: u32,
    // Fraction of each cell left empty between bars (0..0.95).
    gap: f32,
    // Corner radius as a fraction of the bar width (0..0.5).
    radius: f32,
    // 0 = bars grow up from the bottom edge, 1 = both ways from the centre line, 2 = down from the top.
    align: u32,
    opacity: f32,
    // Minimum bar height in pixels, so silent bands still show.
    min_height: f32,
    // 0 = colour by height, 1 = colour along x.
    gradient: u32,
    // 1 = spectrum mirrored left-right (lowest band in the middle).
    symmetric: u32,
    // Number of cap instances after the bars (0 = no peak-hold caps).
    caps: u32,
    // Cap thickness in pixels.
    cap_height: f32,
    _pad0: f32,
    _pad1: f32,
};

@group(1) @binding(0) var<uniform> params: BarsParams;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    // Pixel offset from the quad's centre.
    @location(0) local: vec2<f32>,
    // Gradient coordinate (0 = colour_a, 1 = colour_b).
    @location(1) t: f32,
    // Half size of the shape and its corner radius, in pixels.
    @location(2) @interpolate(flat) half_radius: vec3<f32>,
    @location(3) @interpolate(flat) color_a: vec4<f32>,
    @location(4) @interpolate(flat) color_b: vec4<f32>,
    @location(5) @interpolate(flat) opacity: f32,
};

// Band position (0 = lowest, 1 = highest) shown by bar `index` of `count`.
fn bar_band(index: f32, count: f32) -> f32 {
    let pos = (index + 0.5) / count;
    if params.symmetric == 1u {
        return abs(2.0 * pos - 1.0);
    }
    return pos;
}

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @builtin(instance_index) instance: u32) -> VsOut {
    let rect = params.rect;
    let n = max(params.count, 1u);
    let count = f32(n);
    let cell = rect.z / count;
    let is_cap = instance >= n;
    let j = select(instance, instance - n, is_cap);
    let index = f32(j % n);
    let band = bar_band(index, count);
    let bar_width = max(cell * (1.0 - params.gap), 1.0);
    let x = rect.x + (index + 0.5) * cell;
    let align = params.align;
    // Extent available to a bar: the whole rectangle, or half of it when centred.
    let extent = select(rect.w, 0.5 * rect.w, align == 1u);
    var centre: vec2<f32>;
    var half: vec2<f32>;
    var t: f32;
    if is_cap {
        // A cap sits on the peak-hold level; centred bars get one on each side.
        let peak = clamp(peak_level(band), 0.0, 1.0);
        let h = params.cap_height;
        let offset = max(peak * extent, params.min_height) + 0.5 * h + 1.0;
        let down = align == 2u || (align == 1u && j >= n);
        let origin = select(rect.y + rect.w, select(rect.y, rect.y + 0.5 * rect.w, align == 1u), align != 0u);
        centre = vec2<f32>(x, select(origin - offset, origin + offset, down));
        half = vec2<f32>(0.5 * bar_width, 0.5 * h);
        t = 1.0;
    } else {
        let level = clamp(band_level(band), 0.0, 1.0);
        let height = min(max(level * extent, params.min_height), extent);
        var cy: f32;
        switch align {
            case 1u: { cy = rect.y + 0.5 * rect.w; }
            case 2u: { cy = rect.y + 0.5 * height; }
            default: { cy = rect.y + rect.w - 0.5 * height; }
        }
        // Centred bars span both ways, so their full height is twice the level.
        let full = select(height, 2.0 * height, align == 1u);
        centre = vec2<f32>(x, cy);
        half = vec2<f32>(0.5 * bar_width, 0.5 * full);
        t = 0.0;
    }
    let corner = quad_corner(vertex);
    // One pixel of margin around the shape leaves room for the anti-aliased edge.
    let local = corner * (half + vec2<f32>(1.0));
    var out: VsOut;
    out.position = pixel_to_clip(centre + local);
    out.local = local;
    if is_cap {
        out.t = 1.0;
        out.color_a = params.peak_color;
        out.color_b = params.peak_color;
    } else {
        if params.gradient == 1u {
            out.t = (index + 0.5) / count;
        } else {
            // 0 at the bar's base (or the centre line), 1 at the far edge of the rectangle.
            let from_base = select(select(1.0 - corner.y, 1.0 + corner.y, align == 2u), abs(corner.y), align == 1u);
            let reach = select(2.0 * half.y, half.y, align == 1u);
            out.t = from_base * 0.5 * reach / extent * select(1.0, 2.0, align == 1u);
        }
        out.color_a = params.color_a;
        out.color_b = params.color_b;
    }
    out.half_radius = vec3<f32>(half, min(params.radius * bar_width, min(half.x, half.y)));
    out.opacity = params.opacity;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = sd_round_box(in.local, in.half_radius.xy, in.half_radius.z);
    let color = mix(in.color_a, in.color_b, clamp(in.t, 0.0, 1.0));
    return premultiply(vec4<f32>(color.rgb, color.a * coverage(d)), in.opacity);
}
