// #import shared/fullscreen.wgsl
//
// RGB -> NV12, BT.709 matrix, limited ("TV") range, in ONE pass over a (W/2) x (H/2) grid:
// each fragment reads one 2x2 block of the source and writes three Rg8Unorm targets,
//   @location(0) the block's top row of Y     (copied to even rows of the Y plane)
//   @location(1) the block's bottom row of Y  (copied to odd rows of the Y plane)
//   @location(2) the block's Cb, Cr          (the interleaved chroma plane)
// A quarter of the fragments of a full-resolution Y pass: software rasterisers (lavapipe) pay per
// fragment, and this halves the conversion's cost there.
// `source` is a non-sRGB view of the sRGB render target, so loads return the gamma-encoded
// R'G'B' the BT.709 matrix is defined on. Chroma is the mean of the 2x2 block.
// CPU reference: crates/gpu/src/nv12.rs (`rgb_to_nv12_reference`).

@group(0) @binding(0) var source: texture_2d<f32>;

const KR: f32 = 0.2126;
const KB: f32 = 0.0722;
const KG: f32 = 0.7152;

fn luma(c: vec3<f32>) -> f32 {
    return dot(c, vec3<f32>(KR, KG, KB));
}

fn limited_y(c: vec3<f32>) -> f32 {
    return (16.0 + 219.0 * luma(c)) / 255.0;
}

struct Nv12Out {
    @location(0) y_top: vec4<f32>,
    @location(1) y_bottom: vec4<f32>,
    @location(2) cbcr: vec4<f32>,
};

@fragment
fn fs_nv12(@builtin(position) position: vec4<f32>) -> Nv12Out {
    let p = vec2<i32>(position.xy) * 2;
    let c00 = textureLoad(source, p, 0).rgb;
    let c10 = textureLoad(source, p + vec2<i32>(1, 0), 0).rgb;
    let c01 = textureLoad(source, p + vec2<i32>(0, 1), 0).rgb;
    let c11 = textureLoad(source, p + vec2<i32>(1, 1), 0).rgb;
    let c = 0.25 * (c00 + c10 + c01 + c11);
    let y = luma(c);
    let cb = (c.b - y) / (2.0 * (1.0 - KB));
    let cr = (c.r - y) / (2.0 * (1.0 - KR));
    var out: Nv12Out;
    out.y_top = vec4<f32>(limited_y(c00), limited_y(c10), 0.0, 1.0);
    out.y_bottom = vec4<f32>(limited_y(c01), limited_y(c11), 0.0, 1.0);
    out.cbcr = vec4<f32>((128.0 + 224.0 * cb) / 255.0, (128.0 + 224.0 * cr) / 255.0, 0.0, 1.0);
    return out;
}
