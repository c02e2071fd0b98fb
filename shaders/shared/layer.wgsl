// #import shared/frame.wgsl
//
// Helpers shared by layer shaders: placement, quads, anti-aliasing, dithering.
// Every layer shader returns premultiplied linear-light colour (alpha already multiplied by the
// layer's opacity); the pipeline's blend state applies the layer's blend mode.

// Clip-space position of a point given in output pixels (origin top-left, y down).
fn pixel_to_clip(p: vec2<f32>) -> vec4<f32> {
    return vec4<f32>(2.0 * p.x / frame.resolution.x - 1.0, 1.0 - 2.0 * p.y / frame.resolution.y, 0.0, 1.0);
}

// Corner `vertex % 6` of a quad made of two triangles, in -1..1.
fn quad_corner(vertex: u32) -> vec2<f32> {
    let corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(-1.0, 1.0),
        vec2<f32>(-1.0, 1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
    );
    return corners[vertex % 6u];
}

// Coverage of a pixel by a shape from its signed distance in pixels (negative inside): a
// one-pixel-wide linear ramp centred on the edge.
fn coverage(d: f32) -> f32 {
    return clamp(0.5 - d, 0.0, 1.0);
}

// Signed distance from p to a box of half-size `half` with corner radius r, centred at the origin.
fn sd_round_box(p: vec2<f32>, half: vec2<f32>, r: f32) -> f32 {
    let q = abs(p) - half + vec2<f32>(r);
    return length(max(q, vec2<f32>(0.0))) + min(max(q.x, q.y), 0.0) - r;
}

// Signed distance from p to the segment a-b (a capsule of radius 0).
fn sd_segment(p: vec2<f32>, a: vec2<f32>, b: vec2<f32>) -> f32 {
    let pa = p - a;
    let ba = b - a;
    let h = clamp(dot(pa, ba) / max(dot(ba, ba), 1e-6), 0.0, 1.0);
    return length(pa - ba * h);
}

// Uniform noise in [-0.5, 0.5) for a pixel (integer hash, PCG-like). The same every frame: a
// still gradient stays still (no noise for the encoder to spend bits on), and the frame
// renderer may draw it once and copy it (renderer/base_cache.rs).
fn dither_noise(pixel: vec2<f32>) -> f32 {
    var h = u32(pixel.x) * 1973u + u32(pixel.y) * 9277u;
    h = (h ^ (h >> 16u)) * 0x7feb352du;
    h = (h ^ (h >> 15u)) * 0x846ca68bu;
    h = h ^ (h >> 16u);
    return f32(h & 0xffffu) / 65536.0 - 0.5;
}

// Adds half a step of 8-bit noise to an sRGB-encoded colour so smooth gradients do not band
// when the target quantises to 8 bits (flat colours keep their exact value).
fn dither_encoded(c: vec3<f32>, pixel: vec2<f32>) -> vec3<f32> {
    return c + vec3<f32>(dither_noise(pixel) * (0.999 / 255.0));
}

// A premultiplied output from a linear colour with straight alpha and the layer opacity.
fn premultiply(c: vec4<f32>, opacity: f32) -> vec4<f32> {
    let a = clamp(c.a * opacity, 0.0, 1.0);
    return vec4<f32>(c.rgb * a, a);
}

// Oscilloscope value at `pos` in 0..1 across the frame's samples: the middle of the (min, max)
// pair, for channel 0 = mono mix, 1 = left, 2 = right.
fn waveform_at(pos: f32, channel: u32) -> f32 {
    let n = frame.waveform_points;
    if n == 0u {
        return 0.0;
    }
    let x = clamp(pos * f32(n) - 0.5, 0.0, f32(n - 1u));
    let i0 = u32(floor(x));
    let i1 = min(i0 + 1u, n - 1u);
    let base = frame.waveform_offset + select(0u, 2u * n + 2u * n * (channel - 1u), channel > 0u);
    let a = 0.5 * (spectrum[base + 2u * i0] + spectrum[base + 2u * i0 + 1u]);
    let b = 0.5 * (spectrum[base + 2u * i1] + spectrum[base + 2u * i1 + 1u]);
    return mix(a, b, x - f32(i0));
}
