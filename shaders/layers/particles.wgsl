// #import shared/layer.wgsl
// #import shared/particles.wgsl
//
// Particle draw: one instanced quad per slot (dead slots collapse to nothing), a soft round dot
// fading out over its life, colour from colour_a to colour_b with age. Blended "add" by default,
// so the order of slots does not matter.

@group(1) @binding(0) var<uniform> params: ParticlesParams;
@group(1) @binding(3) var<storage, read> particles: array<Particle>;

struct VsOut {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) @interpolate(flat) color: vec4<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32, @builtin(instance_index) instance: u32) -> VsOut {
    let p = particles[instance];
    var out: VsOut;
    if p.age < 0.0 || p.life <= 0.0 {
        out.position = vec4<f32>(-2.0, -2.0, 0.0, 1.0);
        out.local = vec2<f32>(0.0);
        out.color = vec4<f32>(0.0);
        return out;
    }
    let corner = quad_corner(vertex);
    let radius = p.size + 1.0;
    out.position = pixel_to_clip(p.position + corner * radius);
    out.local = corner * radius / max(p.size, 0.5);
    let t = clamp(p.age / p.life, 0.0, 1.0);
    var c = mix(params.color_a, params.color_b, t);
    // Fade in quickly, out slowly; slight brightness variation per particle.
    c.a *= smoothstep(0.0, 0.05, t) * (1.0 - t) * (0.7 + 0.6 * p.seed);
    out.color = c;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = length(in.local);
    let a = in.color.a * clamp(1.0 - d, 0.0, 1.0) * clamp(1.0 - d, 0.0, 1.0);
    return premultiply(vec4<f32>(in.color.rgb, a), params.opacity);
}
