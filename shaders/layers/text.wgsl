// #import shared/layer.wgsl
//
// Text: a coverage bitmap rasterised on the CPU (crates/gpu/src/text.rs) whenever the string
// changes, sampled here, with an optional soft drop shadow drawn under it.
// Host mirror: crates/gpu/src/layers/text.rs (`TextParams`).

struct TextParams {
    // Where the bitmap is drawn, pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Linear-light colours, straight alpha.
    color: vec4<f32>,
    shadow_color: vec4<f32>,
    // Shadow offset in pixels (x right, y down).
    shadow_offset: vec2<f32>,
    opacity: f32,
    // Shadow softness in pixels (0 = hard).
    shadow_blur: f32,
};

@group(1) @binding(0) var<uniform> params: TextParams;
// R8 coverage of the rasterised text.
@group(1) @binding(1) var glyphs: texture_2d<f32>;
@group(1) @binding(2) var glyph_sampler: sampler;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
    // Shadow offset and blur radius in texture coordinates.
    @location(1) @interpolate(flat) shadow_uv: vec4<f32>,
    @location(2) @interpolate(flat) color: vec4<f32>,
    @location(3) @interpolate(flat) shadow_color: vec4<f32>,
    @location(4) @interpolate(flat) opacity: f32,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VsOut {
    let rect = params.rect;
    let unit = 0.5 * quad_corner(vertex) + vec2<f32>(0.5);
    var out: VsOut;
    out.position = pixel_to_clip(rect.xy + unit * rect.zw);
    out.uv = unit;
    let size = max(rect.zw, vec2<f32>(1.0));
    out.shadow_uv = vec4<f32>(params.shadow_offset / size, vec2<f32>(params.shadow_blur) / size);
    out.color = params.color;
    out.shadow_color = params.shadow_color;
    out.opacity = params.opacity;
    return out;
}

fn ink(uv: vec2<f32>) -> f32 {
    return textureSampleLevel(glyphs, glyph_sampler, uv, 0.0).r;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let text_a = ink(in.uv) * in.color.a;
    var shadow_a = 0.0;
    if in.shadow_color.a > 0.0 {
        let suv = in.uv - in.shadow_uv.xy;
        let b = in.shadow_uv.zw;
        if b.x > 0.0 {
            // 3x3 taps over the blur radius (a cheap soft shadow).
            var sum = 0.0;
            for (var j = -1; j <= 1; j++) {
                for (var i = -1; i <= 1; i++) {
                    sum += ink(suv + vec2<f32>(f32(i), f32(j)) * b);
                }
            }
            shadow_a = sum / 9.0;
        } else {
            shadow_a = ink(suv);
        }
        shadow_a *= in.shadow_color.a;
    }
    // Text over its shadow, premultiplied.
    let rgb = in.color.rgb * text_a + in.shadow_color.rgb * shadow_a * (1.0 - text_a);
    let a = text_a + shadow_a * (1.0 - text_a);
    return vec4<f32>(rgb, a) * in.opacity;
}
