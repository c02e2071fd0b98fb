// Particle state and parameters shared by the simulation (compute) and the draw (render).
// Host mirror: crates/gpu/src/layers/particles.rs (`ParticlesParams`).

struct Particle {
    position: vec2<f32>,
    velocity: vec2<f32>,
    // Seconds since birth; negative = dead slot.
    age: f32,
    // Lifetime, seconds.
    life: f32,
    // Radius in pixels.
    size: f32,
    // Random value in 0..1 fixed at birth (colour variation).
    seed: f32,
};

struct ParticlesParams {
    // Area particles live in, pixels: x, y, width, height (they die when they leave it).
    rect: vec4<f32>,
    // Linear-light colours at birth and at death, straight alpha.
    color_a: vec4<f32>,
    color_b: vec4<f32>,
    // Emitter position in pixels (shape 0), gravity in pixels per second squared.
    emitter: vec2<f32>,
    gravity: vec2<f32>,
    capacity: u32,
    // Slots [emit_start, emit_start + emit_count) (mod capacity) are (re)born this frame.
    emit_start: u32,
    emit_count: u32,
    // 0 = from the emitter point, 1 = anywhere in the rectangle, 2 = along its bottom edge.
    shape: u32,
    // Initial speed (pixels per second), lifetime (s), radius (pixels).
    speed: f32,
    life: f32,
    size: f32,
    // Seconds per frame.
    dt: f32,
    opacity: f32,
    // Fraction of velocity lost per second.
    drag: f32,
    // Emission cone half-angle in radians around `direction` (radians, 0 = up).
    spread: f32,
    direction: f32,
};

// Integer hash -> 0..1.
fn hash01(x: u32) -> f32 {
    var h = x * 747796405u + 2891336453u;
    h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
    h = (h >> 22u) ^ h;
    return f32(h & 0xffffffu) / 16777216.0;
}
