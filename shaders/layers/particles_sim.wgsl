// #import shared/frame.wgsl
// #import shared/particles.wgsl
//
// Particle simulation, one invocation per slot: slots in this frame's emission range are reborn
// (position, velocity, size and lifetime from a hash of the frame index and the particle's
// place in the burst, so a render and a preview of the same time agree); live particles move
// under gravity and drag and die when old or outside the layer's rectangle.

@group(1) @binding(0) var<uniform> params: ParticlesParams;
@group(1) @binding(1) var<storage, read_write> particles: array<Particle>;

@compute @workgroup_size(64)
fn cs_main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    let cap = params.capacity;
    if i >= cap {
        return;
    }
    var p = particles[i];
    let k = (i + cap - params.emit_start % cap) % cap;
    if k < params.emit_count {
        let key = frame.frame_index * 9781u + k * 6271u;
        let r0 = hash01(key);
        let r1 = hash01(key + 1u);
        let r2 = hash01(key + 2u);
        let r3 = hash01(key + 3u);
        let r4 = hash01(key + 4u);
        var origin: vec2<f32>;
        switch params.shape {
            case 1u: { origin = params.rect.xy + vec2<f32>(r0, r1) * params.rect.zw; }
            case 2u: { origin = vec2<f32>(params.rect.x + r0 * params.rect.z, params.rect.y + params.rect.w); }
            default: { origin = params.emitter; }
        }
        let angle = params.direction + (2.0 * r2 - 1.0) * params.spread;
        let speed = params.speed * (0.5 + r3);
        p.position = origin;
        p.velocity = vec2<f32>(sin(angle), -cos(angle)) * speed;
        p.age = 0.0;
        p.life = params.life * (0.6 + 0.8 * r4);
        p.size = params.size * (0.5 + r1);
        p.seed = r2;
    } else if p.age >= 0.0 {
        let dt = params.dt;
        p.velocity = (p.velocity + params.gravity * dt) * max(1.0 - params.drag * dt, 0.0);
        p.position += p.velocity * dt;
        p.age += dt;
        let r = params.rect;
        let outside = p.position.x < r.x - p.size || p.position.x > r.x + r.z + p.size
            || p.position.y < r.y - p.size || p.position.y > r.y + r.w + p.size;
        if p.age > p.life || outside {
            p.age = -1.0;
        }
    }
    particles[i] = p;
}
