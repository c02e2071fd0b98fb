// #import shared/layer.wgsl
//
// An image (PNG/JPEG still, or the current frame of a video) placed in a rectangle: fitted by
// the host (cover, contain or stretch, plus zoom) through a UV transform, optionally clipped to
// an ellipse (cover art) or a rounded rectangle, with an anti-aliased edge.
// Host mirror: crates/gpu/src/layers/image.rs (`ImageParams`).

// True when this layer is opaque, covers the frame and is drawn first: the texture is then bound
// through a non-sRGB view and its encoded bytes are stored as they are (no blending, no
// transfer function per pixel), which software rasterisers render much faster.
override OUTPUT_ENCODED: bool = false;

struct ImageParams {
    // Placement in pixels: x, y (top-left), width, height.
    rect: vec4<f32>,
    // Texture coordinates: uv = uv_transform.xy + local * uv_transform.zw, local in 0..1.
    uv_transform: vec4<f32>,
    // Linear-light multiplier, straight alpha.
    tint: vec4<f32>,
    opacity: f32,
    // 0 = rectangle, 1 = ellipse inscribed in the rectangle.
    shape: u32,
    // Corner radius in pixels (rectangles).
    corner: f32,
    _pad0: f32,
};

@group(1) @binding(0) var<uniform> params: ImageParams;
// sRGB texture: samples are linear light, straight alpha.
@group(1) @binding(1) var image: texture_2d<f32>;
@group(1) @binding(2) var image_sampler: sampler;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
    // Pixel offset from the rectangle's centre.
    @location(1) local: vec2<f32>,
    @location(2) @interpolate(flat) half: vec2<f32>,
    @location(3) @interpolate(flat) tint: vec4<f32>,
    @location(4) @interpolate(flat) shape_corner_opacity: vec3<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VsOut {
    let rect = params.rect;
    let half = 0.5 * rect.zw;
    let corner = quad_corner(vertex);
    // Half a pixel of margin for the anti-aliased edge of clipped shapes.
    let local = corner * (half + vec2<f32>(1.0));
    let unit = local / max(rect.zw, vec2<f32>(1e-6)) + vec2<f32>(0.5);
    var out: VsOut;
    out.position = pixel_to_clip(rect.xy + half + local);
    out.uv = params.uv_transform.xy + unit * params.uv_transform.zw;
    out.local = local;
    out.half = half;
    out.tint = params.tint;
    out.shape_corner_opacity = vec3<f32>(f32(params.shape), params.corner, params.opacity);
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    var d: f32;
    if in.shape_corner_opacity.x > 0.5 {
        // Ellipse: distance approximated by scaling to a circle of the smaller half-axis.
        let r = min(in.half.x, in.half.y);
        d = length(in.local * (r / max(in.half, vec2<f32>(1e-6)))) - r;
    } else {
        d = sd_round_box(in.local, in.half, min(in.shape_corner_opacity.y, min(in.half.x, in.half.y)));
    }
    var c = textureSampleLevel(image, image_sampler, in.uv, 0.0);
    if OUTPUT_ENCODED {
        return vec4<f32>(c.rgb, 1.0);
    }
    // Outside the image (contain leaves bands): transparent.
    let inside = all(in.uv >= vec2<f32>(0.0)) && all(in.uv <= vec2<f32>(1.0));
    c = select(vec4<f32>(0.0), c, inside) * in.tint;
    return premultiply(vec4<f32>(c.rgb, c.a * coverage(d)), in.shape_corner_opacity.z);
}
