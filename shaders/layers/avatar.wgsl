// #import shared/layer.wgsl
// #import shared/color.wgsl
//
// A talking avatar: the face picture (a still or the current frame of a video) placed like an
// image layer, with the lip-synced face from the Wav2Lip generator (a 96x96 BGR tensor that
// stays on the GPU, bound as this layer's storage buffer) blended over the lower face through a
// feathered mask: the mask is zero on the face box's edge and rises smoothly inside it, so no
// box edge is visible.
// Host mirror: crates/gpu/src/layers/avatar.rs (`AvatarParams`); mask reference: `avatar_mask`.

struct AvatarParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Texture coordinates: uv = uv_transform.xy + local * uv_transform.zw, local in 0..1.
    uv_transform: vec4<f32>,
    // Face box in texture coordinates: x0, y0, x1, y1.
    face_box: vec4<f32>,
    // Mask: feather width as a fraction of the box (x, y), top of the blended region as a
    // fraction of the box height, and the generated face's weight (0 without one; rising when
    // a face returns with on_no_face = "pass").
    mask: vec4<f32>,
    opacity: f32,
    // 1: only the blended mouth region is drawn (alpha = mask x weight), 0: the whole picture.
    mouth_only: f32,
    // 1: clamped Catmull-Rom upsampling of the generated face, 0: bilinear.
    sharp: f32,
    _pad2: f32,
};

@group(1) @binding(0) var<uniform> params: AvatarParams;
// sRGB texture: samples are linear light.
@group(1) @binding(1) var image: texture_2d<f32>;
@group(1) @binding(2) var image_sampler: sampler;
// The generator's output: B, G, R planes of 96x96, sRGB-encoded values in 0..1.
@group(1) @binding(3) var<storage, read> generated: array<f32>;

const SIDE: i32 = 96;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VsOut {
    let rect = params.rect;
    let corner = quad_corner(vertex);
    let unit = corner * 0.5 + vec2<f32>(0.5);
    var out: VsOut;
    out.position = pixel_to_clip(rect.xy + unit * rect.zw);
    out.uv = params.uv_transform.xy + unit * params.uv_transform.zw;
    return out;
}

fn ramp(t: f32, width: f32) -> f32 {
    return smoothstep(0.0, max(width, 1e-4), t);
}

// Blend weight at `q` (0..1 across the face box): zero on and outside the box's edge, smooth
// (C1) everywhere, 1 in the lower face away from the edges.
fn avatar_mask(q: vec2<f32>, feather: vec2<f32>, top: f32) -> f32 {
    let mx = ramp(q.x, feather.x) * ramp(1.0 - q.x, feather.x);
    let my = ramp(q.y - top, feather.y) * ramp(1.0 - q.y, feather.y);
    return mx * my;
}

fn generated_texel(x: i32, y: i32) -> vec3<f32> {
    let q = clamp(vec2<i32>(x, y), vec2<i32>(0), vec2<i32>(SIDE - 1));
    let plane = SIDE * SIDE;
    let i = q.y * SIDE + q.x;
    // B, G, R planes.
    return vec3<f32>(generated[i + 2 * plane], generated[i + plane], generated[i]);
}

// Bilinear sample of the generated face at q in 0..1 (half-pixel centres).
fn generated_at(q: vec2<f32>) -> vec3<f32> {
    let s = q * f32(SIDE) - vec2<f32>(0.5);
    let f = floor(s);
    let t = s - f;
    let x = i32(f.x);
    let y = i32(f.y);
    let top = mix(generated_texel(x, y), generated_texel(x + 1, y), t.x);
    let bottom = mix(generated_texel(x, y + 1), generated_texel(x + 1, y + 1), t.x);
    return mix(top, bottom, t.y);
}

// Catmull-Rom weights of the four texels around a sample at fraction t past the second.
fn catmull_rom(t: f32) -> vec4<f32> {
    let t2 = t * t;
    let t3 = t2 * t;
    return vec4<f32>(
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    );
}

// The generated face at q, upsampled edge-preserving: bicubic (Catmull-Rom, 4x4 texels), then
// clamped to the range of the 2x2 texels around q, so an edge is as steep as the cubic makes
// it without the ringing (halos) a cubic leaves beside it. Same half-pixel centres as
// `generated_at`.
fn generated_sharp(q: vec2<f32>) -> vec3<f32> {
    let s = q * f32(SIDE) - vec2<f32>(0.5);
    let f = floor(s);
    let t = s - f;
    let x = i32(f.x);
    let y = i32(f.y);
    let wx = catmull_rom(t.x);
    let wy = catmull_rom(t.y);
    var acc = vec3<f32>(0.0);
    for (var j = 0; j < 4; j++) {
        var row = vec3<f32>(0.0);
        for (var i = 0; i < 4; i++) {
            row += wx[i] * generated_texel(x - 1 + i, y - 1 + j);
        }
        acc += wy[j] * row;
    }
    let a = generated_texel(x, y);
    let b = generated_texel(x + 1, y);
    let c = generated_texel(x, y + 1);
    let d = generated_texel(x + 1, y + 1);
    return clamp(acc, min(min(a, b), min(c, d)), max(max(a, b), max(c, d)));
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    var c = textureSampleLevel(image, image_sampler, in.uv, 0.0);
    let inside = all(in.uv >= vec2<f32>(0.0)) && all(in.uv <= vec2<f32>(1.0));
    c = select(vec4<f32>(0.0), c, inside);
    let b = params.face_box;
    let q = (in.uv - b.xy) / max(b.zw - b.xy, vec2<f32>(1e-6));
    var coverage = 1.0 - params.mouth_only;
    if params.mask.w > 0.0 && all(q > vec2<f32>(0.0)) && all(q < vec2<f32>(1.0)) {
        let m = avatar_mask(q, params.mask.xy, params.mask.z) * params.mask.w;
        if m > 0.0 {
            var g: vec3<f32>;
            if params.sharp > 0.5 {
                g = generated_sharp(q);
            } else {
                g = generated_at(q);
            }
            let face = srgb_to_linear(clamp(g, vec3<f32>(0.0), vec3<f32>(1.0)));
            if params.mouth_only > 0.5 {
                // Over the same picture drawn below: the generated face at the mask's weight.
                c = vec4<f32>(face, c.a);
                coverage = m;
            } else {
                c = vec4<f32>(mix(c.rgb, face, m), c.a);
            }
        }
    }
    return premultiply(vec4<f32>(c.rgb, c.a * coverage), params.opacity);
}
