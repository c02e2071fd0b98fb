//! Every file in shaders/ is embedded, composes and validates with naga; host mirrors of WGSL
//! structs agree with naga's layout (test_support's `assert_wgsl_layout!`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gpu::shaders;
use test_support::assert_wgsl_layout;
use test_support::layout::wgsl_struct;

fn shader_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders")
}

fn wgsl_files(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read shaders/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            wgsl_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            let rel = path.strip_prefix(root).expect("under shaders/");
            out.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn every_shader_file_is_embedded_and_valid() {
    let root = shader_dir();
    let mut on_disk = BTreeSet::new();
    wgsl_files(&root, &root, &mut on_disk);
    assert!(on_disk.len() >= 5, "found only {on_disk:?}");
    let embedded: BTreeSet<String> = shaders::FILES.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(on_disk, embedded, "shaders/ and the embedded list differ");

    // Validate the files as they are on disk (what the next build embeds), all errors together.
    let lookup = |p: &str| {
        std::fs::read_to_string(root.join(p)).map_err(|e| gpu::GpuError::Shader {
            file: p.to_owned(),
            message: e.to_string(),
        })
    };
    let errors: Vec<String> = on_disk
        .iter()
        .filter_map(|file| {
            shaders::compose_with(file, &lookup)
                .map(|src| {
                    // Partial files are checked with a minimal user function in front.
                    if shaders::PARTIAL.contains(&file.as_str()) {
                        format!("{MINIMAL_SHADE}\n{src}")
                    } else {
                        src
                    }
                })
                .and_then(|src| shaders::validate(file, &src))
                .err()
                .map(|e| e.to_string())
        })
        .collect();
    assert!(errors.is_empty(), "invalid shaders:\n{}", errors.join("\n"));
}

const MINIMAL_SHADE: &str =
    "fn shade(input: ShadeInput) -> vec4<f32> { return vec4<f32>(input.uv, 0.0, 1.0); }";

fn custom(source: &str) -> Result<naga::Module, gpu::GpuError> {
    shaders::validate_custom(&gpu::CustomShader {
        file: "my/plasma.wgsl".into(),
        source: source.into(),
    })
}

#[test]
fn custom_layers_validate_and_report_the_users_line_and_column() {
    // A working shader that uses the documented inputs.
    custom(
        "// plasma\nfn shade(input: ShadeInput) -> vec4<f32> {\n    let b = band_level(input.uv.x) + \
         frame.features.bass + value(0u);\n    return vec4<f32>(palette(0u, b), 1.0);\n}\n",
    )
    .expect("valid custom shader");

    // A syntax error on line 3 at the doubled `*` (columns 24-26).
    let err = custom("// plasma\nfn shade(input: ShadeInput) -> vec4<f32> {\n    let x = input.uv.x * * 2.0;\n    return vec4<f32>(x);\n}\n")
        .expect_err("syntax error");
    let text = err.to_string();
    assert!(text.contains("my/plasma.wgsl:3:"), "{text}");
    let column: u32 = text
        .split("my/plasma.wgsl:3:")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no column in {text}"));
    assert!((24..=26).contains(&column), "column {column}: {text}");

    // A type error (validation, not parsing) on line 2: returns a scalar.
    let err = custom("fn shade(input: ShadeInput) -> vec4<f32> {\n    return 1.0;\n}\n")
        .expect_err("type error");
    let text = err.to_string();
    assert!(text.contains("my/plasma.wgsl:"), "{text}");
    assert!(text.contains(":2:") || text.contains(":1:"), "{text}");

    // An unknown identifier names it.
    let err = custom(
        "fn shade(input: ShadeInput) -> vec4<f32> {\n    return vec4<f32>(no_such_thing);\n}\n",
    )
    .expect_err("unknown identifier");
    let text = err.to_string();
    assert!(
        text.contains("my/plasma.wgsl:2:") && text.contains("no_such_thing"),
        "{text}"
    );

    // No `shade` at all: a clear hint.
    let err = custom("fn other() {}\n").expect_err("missing shade");
    assert!(
        err.to_string().contains("fn shade(input: ShadeInput)"),
        "{err}"
    );
}

#[test]
fn a_broken_shader_reports_file_line_and_column() {
    let err = shaders::validate("user.wgsl", "fn f() -> f32 {\n  return 1.0 +;\n}\n")
        .expect_err("must not validate");
    let text = err.to_string();
    assert!(text.contains("user.wgsl:2:"), "{text}");
}

#[test]
fn host_structs_match_wgsl_layouts() {
    assert_wgsl_layout!(
        gpu::FrameUniforms,
        "layers/bars.wgsl",
        "FrameUniforms",
        [
            resolution,
            time,
            duration,
            frame_index,
            spectrum_offset,
            band_count,
            peaks_offset,
            waveform_offset,
            waveform_points,
            features
        ]
    );
    assert_wgsl_layout!(
        gpu::FrameFeatures,
        "layers/bars.wgsl",
        "FrameFeatures",
        [
            time,
            frame,
            rms,
            peak,
            loudness_lufs,
            level_left,
            level_right,
            onset,
            beat,
            beat_pulse,
            bpm,
            bass,
            mid,
            treble
        ]
    );
    assert_wgsl_layout!(
        gpu::BackgroundParams,
        "layers/background.wgsl",
        "BackgroundParams",
        [color_a, color_b, direction, mode, opacity]
    );
    assert_wgsl_layout!(
        gpu::BarsParams,
        "layers/bars.wgsl",
        "BarsParams",
        [
            rect, color_a, color_b, peak_color, count, gap, radius, align, opacity, min_height,
            gradient, symmetric, caps, cap_height
        ]
    );
    assert_wgsl_layout!(
        gpu::RadialParams,
        "layers/radial.wgsl",
        "RadialParams",
        [
            centre, inner, length, color_a, color_b, count, gap, rotation, opacity, symmetric,
            min_length, radius
        ]
    );
    assert_wgsl_layout!(
        gpu::ImageParams,
        "layers/image.wgsl",
        "ImageParams",
        [rect, uv_transform, tint, opacity, shape, corner]
    );
    assert_wgsl_layout!(
        gpu::AvatarParams,
        "layers/avatar.wgsl",
        "AvatarParams",
        [
            rect,
            uv_transform,
            face_box,
            mask,
            opacity,
            mouth_only,
            sharp
        ]
    );
    assert_wgsl_layout!(
        gpu::WaveformParams,
        "layers/waveform.wgsl",
        "WaveformParams",
        [
            rect, color, glow_color, opacity, thickness, glow, gain, mode, stereo, segments
        ]
    );
    assert_wgsl_layout!(
        gpu::SpectrogramParams,
        "layers/spectrogram.wgsl",
        "SpectrogramParams",
        [rect, opacity, columns, palette, gamma]
    );
    assert_wgsl_layout!(
        gpu::ParticlesParams,
        "layers/particles.wgsl",
        "ParticlesParams",
        [
            rect, color_a, color_b, emitter, gravity, capacity, emit_start, emit_count, shape,
            speed, life, size, dt, opacity, drag, spread, direction
        ]
    );
    let (particle, _) = wgsl_struct("layers/particles.wgsl", "Particle");
    assert_eq!(particle as u64, gpu::PARTICLE_BYTES);
    assert_wgsl_layout!(
        gpu::TextParams,
        "layers/text.wgsl",
        "TextParams",
        [
            rect,
            color,
            shadow_color,
            shadow_offset,
            opacity,
            shadow_blur
        ]
    );
    assert_wgsl_layout!(
        gpu::ProgressParams,
        "layers/progress.wgsl",
        "ProgressParams",
        [rect, track, fill, value, radius, opacity]
    );
    assert_wgsl_layout!(
        gpu::VignetteParams,
        "layers/vignette.wgsl",
        "VignetteParams",
        [color, strength, radius, softness, opacity]
    );
    assert_wgsl_layout!(
        gpu::BloomParams,
        "post/bloom.wgsl",
        "BloomParams",
        [threshold, knee, intensity, opacity, direction, texel]
    );
    assert_wgsl_layout!(
        gpu::CustomParams,
        "layers/custom.wgsl",
        "CustomParams",
        [rect, values, opacity]
    );
}
