// Convolution as implicit GEMM for the Wav2Lip generator: C (M x N) = A (M x K) * B (K x N)
// with M = output channels, N = batch x output pixels (of one sub-pixel phase), K = input
// channels x kernel taps. B is never built: each workgroup gathers its K x N tile from the NCHW
// activations (pixels are the contiguous N dimension, so neighbouring invocations read
// neighbouring addresses) into workgroup memory, next to the M x K tile of weights, and every
// invocation accumulates a 4 x 4 block of C in registers.
//
// One pipeline per layer shape: the tap geometry comes in as `override` constants, so the
// divisions and multiplications that turn k into (channel, tap) and a tap into an input
// coordinate fold into shifts and constants. Sizes and channel ranges stay in the uniform.
//
// A convolution reads input y = q * STRIDE_Y + j - pad for output q and tap j. A transposed
// convolution of stride s is run as s x s sub-pixel phases, each an ordinary convolution over
// the input with a subset of the taps (no multiplies by zero): phase (ry, rx) writes outputs
// y = q * s + ry from inputs y' = q + d - j. Both are `input = q * IN_STEP + j * TAP_STEP + off`
// with `output = q * OUT_STEP + out_off`; the host packs each phase's weights as [K][M] with
// the taps it uses, in (channel, j_y, j_x) order.
//
// Epilogue as in conv2d.wgsl: bias (folded BatchNorm), optional residual (the layer's own
// input at the same place), ReLU / sigmoid / PReLU / none; channel ranges (`*_coff` of
// `*_ctot`) make concatenation free.
// Host side: crates/wav2lip/src/gpu.rs (`GemmParams`, `GemmSpec`); reference: crates/wav2lip/src/cpu.rs.

struct GemmParams {
    // Batch x phase output pixels.
    n_total: u32,
    cout: u32,
    // Input channels x taps of this phase.
    k_total: u32,
    in_h: u32,
    in_w: u32,
    // The phase's output grid (q_h x q_w) and the whole output plane.
    q_h: u32,
    q_w: u32,
    out_h: u32,
    out_w: u32,
    in_ctot: u32,
    in_coff: u32,
    out_ctot: u32,
    out_coff: u32,
    // Input offset of tap 0 (y, x), and where the phase's outputs start (y, x).
    in_off_y: i32,
    in_off_x: i32,
    out_off_y: u32,
    out_off_x: u32,
    // Output channels rounded up to the tile (the row length of `weights`).
    m_pad: u32,
    _pad0: u32,
    _pad1: u32,
};

// Taps of this phase (rows, columns).
override TAPS_Y: u32 = 3u;
override TAPS_X: u32 = 3u;
// Input step per output position (the stride of a convolution, 1 for a transposed phase).
override IN_STEP_Y: i32 = 1;
override IN_STEP_X: i32 = 1;
// Input step per tap (+1 for a convolution, -1 for a transposed phase).
override TAP_STEP_Y: i32 = 1;
override TAP_STEP_X: i32 = 1;
// Output step per phase position (1 for a convolution, the stride for a transposed phase).
override OUT_STEP_Y: u32 = 1u;
override OUT_STEP_X: u32 = 1u;
// 0 = ReLU, 1 = sigmoid, 2 = PReLU, 3 = none (the `act` codes of conv2d.wgsl).
override ACT: u32 = 0u;
override RESIDUAL: bool = false;

@group(0) @binding(0) var<uniform> p: GemmParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
// [K rounded up to BK][m_pad / 4]: four output channels per element, zero past cout and K.
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
// [m_pad] biases, then (PReLU only) [m_pad] slopes.
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

// The tile: BM output channels x BN pixels x BK of K per step; 256 invocations, 16 x 16, each
// holding a 4 x 4 block of accumulators.
const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

// [BK][BM / 4] and [BK][BN / 4].
var<workgroup> a_tile: array<vec4<f32>, 256>;
var<workgroup> b_tile: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn gemm(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let n_total = p.n_total;
    let k_total = p.k_total;
    let in_h = i32(p.in_h);
    let in_w = i32(p.in_w);
    let in_plane = p.in_h * p.in_w;
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let row = tid / 16u;
    let col = tid % 16u;

    // This invocation's four B columns (pixels n0 + 4 col .. + 3, at K row `row` of each step):
    // fixed for the whole K loop, so they are decomposed once.
    let q_plane = p.q_h * p.q_w;
    var base_y: array<i32, 4>;
    var base_x: array<i32, 4>;
    var chan0: array<u32, 4>;
    var live: array<bool, 4>;
    for (var j = 0u; j < 4u; j++) {
        let n = n0 + col * 4u + j;
        live[j] = n < n_total;
        let img = select(0u, n / q_plane, live[j]);
        let qp = n % q_plane;
        base_y[j] = i32(qp / p.q_w) * IN_STEP_Y + p.in_off_y;
        base_x[j] = i32(qp % p.q_w) * IN_STEP_X + p.in_off_x;
        chan0[j] = img * p.in_ctot + p.in_coff;
    }
    let taps = TAPS_Y * TAPS_X;
    // Weight rows hold m_pad / 4 vec4s.
    let a_row = p.m_pad / 4u;
    let a_col = wg.y * (BM / 4u) + col;

    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < k_total; k0 += BK) {
        // A: one vec4 each (weights are zero-padded to whole tiles, so no bounds tests).
        a_tile[tid] = weights[(k0 + row) * a_row + a_col];
        // B: four pixels of one K row each, gathered from the input (zero outside it).
        let k = k0 + row;
        var b = vec4<f32>(0.0);
        if k < k_total {
            let ci = k / taps;
            let t = k % taps;
            let dy = i32(t / TAPS_X) * TAP_STEP_Y;
            let dx = i32(t % TAPS_X) * TAP_STEP_X;
            for (var j = 0u; j < 4u; j++) {
                let y = base_y[j] + dy;
                let x = base_x[j] + dx;
                if live[j] && y >= 0 && y < in_h && x >= 0 && x < in_w {
                    b[j] = src[(chan0[j] + ci) * in_plane + u32(y) * p.in_w + u32(x)];
                }
            }
        }
        b_tile[tid] = b;
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let a = a_tile[kk * (BM / 4u) + row];
            let bv = b_tile[kk * (BN / 4u) + col];
            acc[0] += a.x * bv;
            acc[1] += a.y * bv;
            acc[2] += a.z * bv;
            acc[3] += a.w * bv;
        }
        workgroupBarrier();
    }

    let out_plane = p.out_h * p.out_w;
    for (var j = 0u; j < 4u; j++) {
        let nj = n0 + col * 4u + j;
        if nj >= n_total {
            break;
        }
        let im = nj / q_plane;
        let qj = nj % q_plane;
        let oy = (qj / p.q_w) * OUT_STEP_Y + p.out_off_y;
        let ox = (qj % p.q_w) * OUT_STEP_X + p.out_off_x;
        let o = oy * p.out_w + ox;
        for (var i = 0u; i < 4u; i++) {
            let m = m0 + row * 4u + i;
            if m >= p.cout {
                break;
            }
            var v = acc[i][j] + bias[m];
            if RESIDUAL {
                // Residual layers keep the shape: the input pixel is the output pixel.
                v += src[(im * p.in_ctot + p.in_coff + m) * in_plane + o];
            }
            switch ACT {
                case 0u: { v = max(v, 0.0); }
                case 1u: { v = 1.0 / (1.0 + exp(-v)); }
                case 2u: { v = select(v * bias[p.m_pad + m], v, v >= 0.0); }
                default: {}
            }
            dst[(im * p.out_ctot + p.out_coff + m) * out_plane + o] = v;
        }
    }
}
