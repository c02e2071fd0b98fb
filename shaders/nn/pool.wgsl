// Max pooling in ceil mode (windows clipped to the input), for the MTCNN face detector.
// Host side: crates/wav2lip/src/mtcnn.rs (`PoolParams`); output sizes computed there.

struct PoolParams {
    n: u32,
    c: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    k: u32,
    s: u32,
};

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn pool(@builtin(global_invocation_id) gid: vec3<u32>) {
    let out_w = p.out_w;
    if gid.x >= out_w * p.out_h || gid.y >= p.c || gid.z >= p.n {
        return;
    }
    let ox = gid.x % out_w;
    let oy = gid.x / out_w;
    let plane = (gid.z * p.c + gid.y) * p.in_h * p.in_w;
    let y0 = oy * p.s;
    let x0 = ox * p.s;
    let y1 = min(y0 + p.k, p.in_h);
    let x1 = min(x0 + p.k, p.in_w);
    var m = -3.4e38;
    for (var y = y0; y < y1; y++) {
        for (var x = x0; x < x1; x++) {
            m = max(m, src[plane + y * p.in_w + x]);
        }
    }
    dst[((gid.z * p.c + gid.y) * p.out_h + oy) * out_w + ox] = m;
}
