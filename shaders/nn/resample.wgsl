// Crops of a picture resized into a network's input tensor, on the GPU: the MTCNN image pyramid
// and its 24x24 / 48x48 candidate crops ("area" resampling, the mean over the source texels each
// output cell covers, as torch's interpolate(mode="area")), and Wav2Lip's 96x96 face input
// (bilinear with half-pixel centres, as OpenCV's INTER_LINEAR), so no pixel leaves the GPU.
// Host side: crates/wav2lip/src/resample.rs (`ResampleParams`).

struct ResampleParams {
    out_w: u32,
    out_h: u32,
    // 0 = area, 1 = bilinear.
    mode: u32,
    // 0 = RGB planes (MTCNN); 1 = Wav2Lip's six planes: B, G, R with the lower half
    // (rows >= out_h / 2) zeroed, then B, G, R unmasked.
    planes: u32,
    // Each value is byte * scale + offset (bytes 0..255 of the sRGB-encoded picture).
    scale: f32,
    offset: f32,
    // 1 when the texture is sRGB (its samples are linear and are encoded back to bytes).
    srgb: u32,
    // Crops per dispatch (batch items along z).
    count: u32,
};

@group(0) @binding(0) var<uniform> p: ResampleParams;
@group(0) @binding(1) var picture: texture_2d<f32>;
// One crop per batch item: x0, y0, x1, y1 in texels, end exclusive (whole texels for "area").
@group(0) @binding(2) var<storage, read> crops: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn encode_srgb(c: vec3<f32>) -> vec3<f32> {
    let lo = c * 12.92;
    let hi = 1.055 * pow(max(c, vec3<f32>(0.0)), vec3<f32>(1.0 / 2.4)) - 0.055;
    return select(hi, lo, c <= vec3<f32>(0.0031308));
}

// The picture's bytes (0..255) at a texel, clamped to the picture.
fn texel(x: i32, y: i32, size: vec2<i32>) -> vec3<f32> {
    let q = clamp(vec2<i32>(x, y), vec2<i32>(0), size - vec2<i32>(1));
    var c = textureLoad(picture, q, 0).rgb;
    if p.srgb == 1u {
        c = encode_srgb(c);
    }
    return c * 255.0;
}

@compute @workgroup_size(64)
fn resample(@builtin(global_invocation_id) gid: vec3<u32>) {
    let out_w = p.out_w;
    let out_h = p.out_h;
    if gid.x >= out_w * out_h || gid.z >= p.count {
        return;
    }
    let ox = gid.x % out_w;
    let oy = gid.x / out_w;
    let n = gid.z;
    let crop = crops[n];
    let size = vec2<i32>(textureDimensions(picture));
    var c = vec3<f32>(0.0);
    if p.mode == 0u {
        // Area: source cells floor(o * in / out) .. ceil((o + 1) * in / out).
        let x0 = i32(crop.x);
        let y0 = i32(crop.y);
        let cw = u32(max(i32(crop.z) - x0, 1));
        let ch = u32(max(i32(crop.w) - y0, 1));
        let xs = (ox * cw) / out_w;
        let xe = ((ox + 1u) * cw + out_w - 1u) / out_w;
        let ys = (oy * ch) / out_h;
        let ye = ((oy + 1u) * ch + out_h - 1u) / out_h;
        for (var y = ys; y < ye; y++) {
            for (var x = xs; x < xe; x++) {
                c += texel(x0 + i32(x), y0 + i32(y), size);
            }
        }
        c /= f32((xe - xs) * (ye - ys));
    } else {
        // Bilinear with half-pixel centres, clamped to the crop (OpenCV resizes the cropped
        // array, so its border is replicated).
        let cw = crop.z - crop.x;
        let ch = crop.w - crop.y;
        let sx = clamp((f32(ox) + 0.5) * cw / f32(out_w) - 0.5, 0.0, cw - 1.0);
        let sy = clamp((f32(oy) + 0.5) * ch / f32(out_h) - 0.5, 0.0, ch - 1.0);
        let fx = floor(sx);
        let fy = floor(sy);
        let tx = sx - fx;
        let ty = sy - fy;
        let bx = i32(crop.x + fx);
        let by = i32(crop.y + fy);
        let x1 = select(bx + 1, bx, tx == 0.0);
        let y1 = select(by + 1, by, ty == 0.0);
        let top = mix(texel(bx, by, size), texel(x1, by, size), tx);
        let bottom = mix(texel(bx, y1, size), texel(x1, y1, size), tx);
        c = mix(top, bottom, ty);
    }
    c = c * p.scale + vec3<f32>(p.offset);
    let plane = out_w * out_h;
    let o = oy * out_w + ox;
    if p.planes == 0u {
        let base = n * 3u * plane + o;
        dst[base] = c.r;
        dst[base + plane] = c.g;
        dst[base + 2u * plane] = c.b;
    } else {
        let base = n * 6u * plane + o;
        let keep = select(1.0, 0.0, oy >= out_h / 2u);
        dst[base] = c.b * keep;
        dst[base + plane] = c.g * keep;
        dst[base + 2u * plane] = c.r * keep;
        dst[base + 3u * plane] = c.b;
        dst[base + 4u * plane] = c.g;
        dst[base + 5u * plane] = c.r;
    }
}
