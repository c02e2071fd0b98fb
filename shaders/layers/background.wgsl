// #import shared/fullscreen.wgsl
// #import shared/frame.wgsl
//
// Background layer: a solid colour or a linear gradient across the frame.
// Host mirror: crates/gpu/src/layers.rs (`BackgroundParams`).

struct BackgroundParams {
    // Linear-light colours, straight alpha.
    color_a: vec4<f32>,
    color_b: vec4<f32>,
    // Unit gradient direction in pixel space (y down); colour_a at the start, colour_b at the end.
    direction: vec2<f32>,
    // 0 = solid colour_a, 1 = linear gradient.
    mode: u32,
    opacity: f32,
};

@group(1) @binding(0) var<uniform> params: BackgroundParams;

@fragment
fn fs_main(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    var color = params.color_a;
    if params.mode == 1u {
        let centred = position.xy - 0.5 * frame.resolution;
        // Half the extent of the frame along the direction, so t spans 0..1 corner to corner.
        let half_extent = 0.5 * dot(abs(params.direction), frame.resolution);
        let t = clamp(0.5 + 0.5 * dot(centred, params.direction) / half_extent, 0.0, 1.0);
        color = mix(params.color_a, params.color_b, t);
    }
    let alpha = color.a * params.opacity;
    return vec4<f32>(color.rgb * alpha, alpha);
}
