// #import shared/fullscreen.wgsl
//
// RGB -> NV12, BT.709 matrix, limited ("TV") range, drawn as two passes:
//   fs_luma   into an R8Unorm target of W x H          (Y plane)
//   fs_chroma into an Rg8Unorm target of W/2 x H/2     (interleaved Cb Cr plane)
// `source` is a non-sRGB view of the sRGB render target, so loads return the gamma-encoded
// R'G'B' values the BT.709 matrix is defined on. Chroma is the mean of each 2x2 block.
// CPU reference: crates/gpu/src/nv12.rs (`rgb_to_nv12_reference`).

@group(0) @binding(0) var source: texture_2d<f32>;

const KR: f32 = 0.2126;
const KB: f32 = 0.0722;
const KG: f32 = 0.7152;

fn luma(c: vec3<f32>) -> f32 {
    return dot(c, vec3<f32>(KR, KG, KB));
}

@fragment
fn fs_luma(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    let c = textureLoad(source, vec2<i32>(position.xy), 0).rgb;
    return vec4<f32>((16.0 + 219.0 * luma(c)) / 255.0, 0.0, 0.0, 1.0);
}

@fragment
fn fs_chroma(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    let p = vec2<i32>(position.xy) * 2;
    let c = 0.25 * (textureLoad(source, p, 0).rgb
        + textureLoad(source, p + vec2<i32>(1, 0), 0).rgb
        + textureLoad(source, p + vec2<i32>(0, 1), 0).rgb
        + textureLoad(source, p + vec2<i32>(1, 1), 0).rgb);
    let y = luma(c);
    let cb = (c.b - y) / (2.0 * (1.0 - KB));
    let cr = (c.r - y) / (2.0 * (1.0 - KR));
    return vec4<f32>((128.0 + 224.0 * cb) / 255.0, (128.0 + 224.0 * cr) / 255.0, 0.0, 1.0);
}
