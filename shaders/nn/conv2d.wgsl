// Direct 2-D convolution (or transposed convolution, as a gather) for the Wav2Lip generator.
// One invocation computes four output pixels along x for four consecutive output channels;
// 3x3 stride-1 interior strips share their six inputs across taps, and the decoder's 3x3
// stride-2 transposed convolutions visit only the taps that read an input;
// BatchNorm is folded into the weights and bias on the host.
// Epilogue: bias, optional residual (the layer's own input, same shape), then ReLU, sigmoid,
// PReLU (the MTCNN face detector) or nothing.
// Concatenation costs nothing: inputs are read from, and outputs written to, a channel range
// (`*_coff` .. + channels) of buffers holding `*_ctot` channels.
// Host side: crates/wav2lip/src/gpu.rs (`ConvParams`); CPU reference: crates/wav2lip/src/cpu.rs.

struct ConvParams {
    n: u32,
    cin: u32,
    cout: u32,
    cout_groups: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    // 1 = transposed convolution (output padding only changes the output size).
    transposed: u32,
    // 0 = ReLU, 1 = sigmoid, 2 = PReLU (per-channel slopes follow the biases in `bias`),
    // 3 = none (linear heads).
    act: u32,
    in_ctot: u32,
    in_coff: u32,
    out_ctot: u32,
    out_coff: u32,
    residual: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
};

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
// [cout / 4][cin][kh][kw], four output channels per element (zero-padded past cout).
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
// [cout / 4] biases, then (PReLU only) [cout / 4] negative-side slopes.
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

// Output pixels one invocation computes along x (with four output channels each): every
// weight it loads is used for four pixels, every input value for four channels.
const PX: u32 = 4u;

// Input x for output column `o` through tap `k`, or -1 when that tap reads nothing (padding, or
// a transposed convolution's tap that falls between input samples).
fn source_x(o: i32, k: i32, stride: i32, pad: i32, size: i32, transposed: bool) -> i32 {
    var i: i32;
    if transposed {
        let t = o + pad - k;
        if t < 0 || t % stride != 0 {
            return -1;
        }
        i = t / stride;
    } else {
        i = o * stride + k - pad;
    }
    return select(-1, i, i >= 0 && i < size);
}

@compute @workgroup_size(64)
fn conv(@builtin(global_invocation_id) gid: vec3<u32>) {
    // Uniforms read once into registers (software rasterisers pay for every uniform load).
    let out_h = p.out_h;
    let out_w = p.out_w;
    let strips = (out_w + PX - 1u) / PX;
    if gid.x >= out_h * strips || gid.y >= p.cout_groups || gid.z >= p.n {
        return;
    }
    let cin = p.cin;
    let in_h = i32(p.in_h);
    let in_w = i32(p.in_w);
    let kh = i32(p.kh);
    let kw = i32(p.kw);
    let sh = i32(p.sh);
    let sw = i32(p.sw);
    let ph = i32(p.ph);
    let pw = i32(p.pw);
    let transposed = p.transposed == 1u;
    let in_ctot = p.in_ctot;
    let in_coff = p.in_coff;
    let g = gid.y;
    let n = gid.z;
    let oy = i32(gid.x / strips);
    let ox0 = i32((gid.x % strips) * PX);
    let in_plane = p.in_h * p.in_w;

    // Rows of the kernel that read inside the input, found once (no per-tap tests): for a
    // convolution iy = oy*sh + ky - ph; for a transposed one ky = oy + ph - iy*sh.
    var ky_lo = 0;
    var ky_hi = kh;
    if !transposed {
        ky_lo = max(0, ph - oy * sh);
        ky_hi = min(kh, in_h + ph - oy * sh);
    }

    // A strip whose four pixels read only inside the input row for every kx (most strips of a
    // convolution) takes the unchecked path.
    let interior = !transposed && ox0 * sw - pw >= 0
        && (ox0 + i32(PX) - 1) * sw + kw - 1 - pw < in_w
        && u32(ox0) + PX <= out_w;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ci = 0u; ci < cin; ci++) {
        let base = (n * in_ctot + in_coff + ci) * in_plane;
        let wbase = (g * cin + ci) * u32(kh * kw);
        for (var ky = ky_lo; ky < ky_hi; ky++) {
            var iy: i32;
            if transposed {
                let t = oy + ph - ky;
                if t < 0 || t % sh != 0 {
                    continue;
                }
                iy = t / sh;
                if iy >= in_h {
                    continue;
                }
            } else {
                iy = oy * sh + ky - ph;
            }
            let row = base + u32(iy) * p.in_w;
            let wrow = wbase + u32(ky * kw);
            if transposed && sw == 2 && kw == 3 && pw == 1 {
                // The decoder's transposed 3x3, stride 2, padding 1: of the 12 (pixel, tap)
                // pairs of a strip only 6 read an input. With c = ox0 / 2 (ox0 is even), even
                // pixels take tap 1, odd ones taps 0 and 2, from inputs c, c + 1, c + 2.
                let c = ox0 / 2;
                let last = in_w - 1;
                let xa = src[row + u32(min(c, last))];
                let xb = select(0.0, src[row + u32(min(c + 1, last))], c + 1 < in_w);
                let xc = select(0.0, src[row + u32(min(c + 2, last))], c + 2 < in_w);
                let w0 = weights[wrow];
                let w1 = weights[wrow + 1u];
                let w2 = weights[wrow + 2u];
                acc0 += xa * w1;
                acc1 += xb * w0 + xa * w2;
                acc2 += xb * w1;
                acc3 += xc * w0 + xb * w2;
                continue;
            }
            if interior && sw == 1 && kw == 3 {
                // The common 3x3 stride-1 case: the six inputs the four pixels share are loaded
                // once and reused by all three taps.
                let first = row + u32(ox0 - pw);
                let x0 = src[first];
                let x1 = src[first + 1u];
                let x2 = src[first + 2u];
                let x3 = src[first + 3u];
                let x4 = src[first + 4u];
                let x5 = src[first + 5u];
                let w0 = weights[wrow];
                let w1 = weights[wrow + 1u];
                let w2 = weights[wrow + 2u];
                acc0 += x0 * w0 + x1 * w1 + x2 * w2;
                acc1 += x1 * w0 + x2 * w1 + x3 * w2;
                acc2 += x2 * w0 + x3 * w1 + x4 * w2;
                acc3 += x3 * w0 + x4 * w1 + x5 * w2;
                continue;
            }
            if interior {
                // Every tap of the four pixels lies inside the row: no tests, no selects.
                let first = row + u32(ox0 * sw - pw);
                let step = u32(sw);
                for (var kx = 0u; kx < u32(kw); kx++) {
                    let w = weights[wrow + kx];
                    let i = first + kx;
                    acc0 += src[i] * w;
                    acc1 += src[i + step] * w;
                    acc2 += src[i + 2u * step] * w;
                    acc3 += src[i + 3u * step] * w;
                }
                continue;
            }
            for (var kx = 0; kx < kw; kx++) {
                let w = weights[wrow + u32(kx)];
                let x0 = source_x(ox0, kx, sw, pw, in_w, transposed);
                let x1 = source_x(ox0 + 1, kx, sw, pw, in_w, transposed);
                let x2 = source_x(ox0 + 2, kx, sw, pw, in_w, transposed);
                let x3 = source_x(ox0 + 3, kx, sw, pw, in_w, transposed);
                acc0 += select(0.0, src[row + u32(max(x0, 0))], x0 >= 0) * w;
                acc1 += select(0.0, src[row + u32(max(x1, 0))], x1 >= 0) * w;
                acc2 += select(0.0, src[row + u32(max(x2, 0))], x2 >= 0) * w;
                acc3 += select(0.0, src[row + u32(max(x3, 0))], x3 >= 0) * w;
            }
        }
    }
    let b = bias[g];
    let accs = array<vec4<f32>, 4>(acc0 + b, acc1 + b, acc2 + b, acc3 + b);
    let plane = out_h * out_w;
    let residual = p.residual == 1u;
    let act = p.act;
    var slope = vec4<f32>(0.0);
    if act == 2u {
        slope = bias[p.cout_groups + g];
    }
    for (var j = 0u; j < PX; j++) {
        let ox = u32(ox0) + j;
        if ox >= out_w {
            break;
        }
        let o = u32(oy) * out_w + ox;
        for (var i = 0u; i < 4u; i++) {
            let co = g * 4u + i;
            if co >= p.cout {
                break;
            }
            var v = accs[j][i];
            if residual {
                v += src[(n * in_ctot + in_coff + co) * in_plane + o];
            }
            switch act {
                case 0u: { v = max(v, 0.0); }
                case 1u: { v = 1.0 / (1.0 + exp(-v)); }
                case 2u: { v = select(v * slope[i], v, v >= 0.0); }
                default: {}
            }
            dst[(n * p.out_ctot + p.out_coff + co) * plane + o] = v;
        }
    }
}
