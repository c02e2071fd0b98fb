// Convolution as implicit GEMM on cooperative matrices (tensor cores): the same GEMM as
// conv_gemm.wgsl (M = output channels, N = batch x phase pixels, K = channels x taps; sub-pixel
// phases for transposed convolutions; the same `override` constants, parameters and epilogue),
// with f16 operands and f32 accumulation in 16 x 16 x 16 cooperative-matrix steps.
//
// UNVERIFIED: written against wgpu 30's experimental cooperative-matrix support and validated
// with naga here, but never run (no adapter on the machines this was written on offers the
// feature). It runs only when a job asks for it (`precision = "f16"` on the avatar layer) on an
// adapter that offers EXPERIMENTAL_COOPERATIVE_MATRIX and SHADER_F16.
//
// One workgroup is one subgroup of 32 invocations (an NVIDIA warp; cooperative-matrix operations
// are subgroup-wide) computing a 32 x 32 tile of C as 2 x 2 fragments. Per K step of 16 the
// invocations stage a 32 x 16 tile of weights and a 16 x 32 tile gathered from the activations
// into workgroup memory as f16, then multiply-add the fragments. At the end the fragments go to
// workgroup memory and every invocation runs the f32 epilogue on 32 outputs.
// Host side: crates/wav2lip/src/gemm.rs (`Precision::F16`).

enable f16;
enable wgpu_cooperative_matrix;

struct GemmParams {
    n_total: u32,
    cout: u32,
    k_total: u32,
    in_h: u32,
    in_w: u32,
    q_h: u32,
    q_w: u32,
    out_h: u32,
    out_w: u32,
    in_ctot: u32,
    in_coff: u32,
    out_ctot: u32,
    out_coff: u32,
    in_off_y: i32,
    in_off_x: i32,
    out_off_y: u32,
    out_off_x: u32,
    m_pad: u32,
    _pad0: u32,
    _pad1: u32,
};

override TAPS_Y: u32 = 3u;
override TAPS_X: u32 = 3u;
override IN_STEP_Y: i32 = 1;
override IN_STEP_X: i32 = 1;
override TAP_STEP_Y: i32 = 1;
override TAP_STEP_X: i32 = 1;
override OUT_STEP_Y: u32 = 1u;
override OUT_STEP_X: u32 = 1u;
override ACT: u32 = 0u;
override RESIDUAL: bool = false;

@group(0) @binding(0) var<uniform> p: GemmParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
// The f32 GEMM's packing: [K rounded up to 16][m_pad / 4] vec4s (m_pad a multiple of 64).
@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

const TM: u32 = 32u;
const TN: u32 = 32u;
const TK: u32 = 16u;

// A: [k][m] (column-major M x K, stride TM); B: [k][n] (row-major K x N, stride TN);
// C: [m][n] (row-major, stride TN).
var<workgroup> a_tile: array<f16, 512>;
var<workgroup> b_tile: array<f16, 512>;
var<workgroup> c_tile: array<f32, 1024>;

@compute @workgroup_size(32)
fn gemm(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let n_total = p.n_total;
    let k_total = p.k_total;
    let in_h = i32(p.in_h);
    let in_w = i32(p.in_w);
    let in_plane = p.in_h * p.in_w;
    let m0 = wg.y * TM;
    let n0 = wg.x * TN;
    let q_plane = p.q_h * p.q_w;
    // This invocation stages B column `lane` (one pixel, decomposed once).
    let n = n0 + lane;
    let live = n < n_total;
    let img = select(0u, n / q_plane, live);
    let qp = n % q_plane;
    let base_y = i32(qp / p.q_w) * IN_STEP_Y + p.in_off_y;
    let base_x = i32(qp % p.q_w) * IN_STEP_X + p.in_off_x;
    let chan0 = img * p.in_ctot + p.in_coff;
    let taps = TAPS_Y * TAPS_X;
    let a_row = p.m_pad / 4u;

    var c00: coop_mat16x16<f32, C>;
    var c01: coop_mat16x16<f32, C>;
    var c10: coop_mat16x16<f32, C>;
    var c11: coop_mat16x16<f32, C>;
    for (var k0 = 0u; k0 < k_total; k0 += TK) {
        for (var r = 0u; r < TK; r++) {
            // A: invocation `lane` stages channel m0 + lane of row k0 + r (zero-padded weights).
            let w = weights[(k0 + r) * a_row + (m0 + lane) / 4u];
            a_tile[r * TM + lane] = f16(w[lane % 4u]);
            // B: pixel n at K row k0 + r.
            let k = k0 + r;
            var v = 0.0;
            if live && k < k_total {
                let ci = k / taps;
                let t = k % taps;
                let y = base_y + i32(t / TAPS_X) * TAP_STEP_Y;
                let x = base_x + i32(t % TAPS_X) * TAP_STEP_X;
                if y >= 0 && y < in_h && x >= 0 && x < in_w {
                    v = src[(chan0 + ci) * in_plane + u32(y) * p.in_w + u32(x)];
                }
            }
            b_tile[r * TN + lane] = f16(v);
        }
        workgroupBarrier();
        let a0 = coopLoad<coop_mat16x16<f16, A>>(&a_tile[0], TM);
        let a1 = coopLoad<coop_mat16x16<f16, A>>(&a_tile[16], TM);
        let b0 = coopLoadT<coop_mat16x16<f16, B>>(&b_tile[0], TN);
        let b1 = coopLoadT<coop_mat16x16<f16, B>>(&b_tile[16], TN);
        c00 = coopMultiplyAdd(a0, b0, c00);
        c01 = coopMultiplyAdd(a0, b1, c01);
        c10 = coopMultiplyAdd(a1, b0, c10);
        c11 = coopMultiplyAdd(a1, b1, c11);
        workgroupBarrier();
    }
    coopStoreT(c00, &c_tile[0], TN);
    coopStoreT(c01, &c_tile[16], TN);
    coopStoreT(c10, &c_tile[16u * TN], TN);
    coopStoreT(c11, &c_tile[16u * TN + 16u], TN);
    workgroupBarrier();

    // Epilogue: invocation `lane` finishes pixel n0 + lane for the tile's 32 channels.
    if !live {
        return;
    }
    let oy = (qp / p.q_w) * OUT_STEP_Y + p.out_off_y;
    let ox = (qp % p.q_w) * OUT_STEP_X + p.out_off_x;
    let o = oy * p.out_w + ox;
    let out_plane = p.out_h * p.out_w;
    for (var i = 0u; i < TM; i++) {
        let m = m0 + i;
        if m >= p.cout {
            break;
        }
        var v = c_tile[i * TN + lane] + bias[m];
        if RESIDUAL {
            v += src[(img * p.in_ctot + p.in_coff + m) * in_plane + o];
        }
        switch ACT {
            case 0u: { v = max(v, 0.0); }
            case 1u: { v = 1.0 / (1.0 + exp(-v)); }
            case 2u: { v = select(v * bias[p.m_pad + m], v, v >= 0.0); }
            default: {}
        }
        dst[(img * p.out_ctot + p.out_coff + m) * out_plane + o] = v;
    }
}
