// #import shared/fullscreen.wgsl
//
// Premultiplied -> straight alpha, for outputs that keep the alpha channel (ProRes 4444, VP9
// with alpha, APNG). Layers blend premultiplied in linear light onto a transparent clear, so the
// target holds sRGB-encoded premultiplied linear colour. `source` is the sRGB view of that
// target: loads decode to linear; dividing by alpha gives the straight colour, which the
// Rgba8UnormSrgb output encodes again. Fully transparent pixels become (0, 0, 0, 0).
// CPU reference: crates/gpu/src/rgba.rs (`straight_alpha_reference`).

@group(0) @binding(0) var source: texture_2d<f32>;

@fragment
fn fs_straight(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    let c = textureLoad(source, vec2<i32>(position.xy), 0);
    if (c.a <= 0.0) {
        return vec4<f32>(0.0);
    }
    return vec4<f32>(min(c.rgb / c.a, vec3<f32>(1.0)), c.a);
}
