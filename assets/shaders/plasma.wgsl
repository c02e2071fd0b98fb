// A custom layer: `kind = "custom"`, `shader = "shaders/plasma.wgsl"`.
// Write `fn shade(input: ShadeInput) -> vec4<f32>` returning an sRGB colour with straight alpha.
// Inputs: input.uv (0..1 over the layer's rect), input.pixel, input.size; `frame` (time,
// features such as frame.features.bass / beat_pulse), band_level(pos), waveform_at(pos, ch),
// value(i) for the layer's `values`, palette(index, t). See shaders/layers/custom.wgsl.

fn shade(input: ShadeInput) -> vec4<f32> {
    let p = (input.uv - vec2<f32>(0.5)) * vec2<f32>(input.size.x / input.size.y, 1.0);
    let t = frame.time * value(0u);
    let r = length(p);
    // Rings that breathe with the bass, coloured by the spectrum at their radius.
    let wave = sin(18.0 * r - 4.0 * t) * 0.5 + 0.5;
    let level = band_level(clamp(r * 1.6, 0.0, 1.0));
    let c = palette(2u, 0.25 + 0.6 * level * wave + 0.3 * value(1u));
    let fade = smoothstep(0.72, 0.5, r);
    return vec4<f32>(c, fade);
}
