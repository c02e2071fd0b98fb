//! The WGSL shader library: every file under `shaders/` is embedded at build time.
//!
//! A shader pulls in shared code with a line `// #import <path>` (path relative to `shaders/`).
//! [`compose`] expands imports (each file once) and [`validate`] runs naga's WGSL front end and
//! validator, so a broken shader is reported with its file, line and column before any GPU work.

use crate::{CustomShader, GpuError};

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        /// (path relative to `shaders/`, source) for every embedded file.
        pub const FILES: &[(&str, &str)] = &[
            $(($path, include_str!(concat!("../../../shaders/", $path))),)*
        ];
    };
}

embed!(
    "shared/features.wgsl",
    "shared/frame.wgsl",
    "shared/fullscreen.wgsl",
    "shared/color.wgsl",
    "shared/layer.wgsl",
    "shared/palettes.wgsl",
    "shared/particles.wgsl",
    "layers/background.wgsl",
    "layers/bars.wgsl",
    "layers/custom.wgsl",
    "layers/image.wgsl",
    "layers/particles.wgsl",
    "layers/particles_sim.wgsl",
    "layers/progress.wgsl",
    "layers/radial.wgsl",
    "layers/spectrogram.wgsl",
    "layers/text.wgsl",
    "layers/vignette.wgsl",
    "layers/waveform.wgsl",
    "post/bloom.wgsl",
    "color/nv12.wgsl",
    "color/straight.wgsl",
    "nn/conv2d.wgsl",
    "nn/conv_gemm.wgsl",
    "nn/conv_coop.wgsl",
    "nn/pool.wgsl",
    "nn/resample.wgsl",
    "layers/avatar.wgsl",
);

/// Embedded files that need device capabilities beyond the baseline (validated with them; a
/// device must offer the matching wgpu features before such a module is created).
pub const NEEDS: &[(&str, naga::valid::Capabilities)] = &[(
    "nn/conv_coop.wgsl",
    naga::valid::Capabilities::COOPERATIVE_MATRIX.union(naga::valid::Capabilities::SHADER_FLOAT16),
)];

/// The capabilities `file` is validated with.
pub fn capabilities(file: &str) -> naga::valid::Capabilities {
    NEEDS
        .iter()
        .find(|(f, _)| *f == file)
        .map_or(naga::valid::Capabilities::default(), |(_, c)| *c)
}

/// Embedded files that are not complete modules on their own (the custom layer's epilogue
/// needs the user's `shade` function).
pub const PARTIAL: &[&str] = &["layers/custom.wgsl"];

/// The raw source of an embedded file.
pub fn source(path: &str) -> Result<&'static str, GpuError> {
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, s)| *s)
        .ok_or_else(|| GpuError::Shader {
            file: path.to_owned(),
            message: "no such embedded shader (add it to crates/gpu/src/shaders.rs)".into(),
        })
}

/// Expands `// #import` lines recursively; each file is included once, before its importer.
pub fn compose(path: &str) -> Result<String, GpuError> {
    compose_with(path, &|p| source(p).map(str::to_owned))
}

/// [`compose`] over an arbitrary file lookup (used by tests that read `shaders/` from disk).
pub fn compose_with(
    path: &str,
    lookup: &dyn Fn(&str) -> Result<String, GpuError>,
) -> Result<String, GpuError> {
    fn go(
        path: &str,
        lookup: &dyn Fn(&str) -> Result<String, GpuError>,
        seen: &mut Vec<String>,
        out: &mut String,
    ) -> Result<(), GpuError> {
        if seen.iter().any(|s| s == path) {
            return Ok(());
        }
        seen.push(path.to_owned());
        let src = lookup(path)?;
        for line in src.lines() {
            if let Some(dep) = line.trim().strip_prefix("// #import ") {
                go(dep.trim(), lookup, seen, out)?;
            }
        }
        out.push_str(&format!("// ---- {path}\n"));
        out.push_str(&src);
        out.push('\n');
        Ok(())
    }
    let mut out = String::new();
    go(path, lookup, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// Parses and validates composed WGSL with naga; `file` names it in errors.
pub fn validate(file: &str, wgsl: &str) -> Result<naga::Module, GpuError> {
    let module = naga::front::wgsl::parse_str(wgsl).map_err(|e| GpuError::Shader {
        file: file.to_owned(),
        message: e.emit_to_string_with_path(wgsl, file),
    })?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities(file))
        .validate(&module)
        .map_err(|e| GpuError::Shader {
            file: file.to_owned(),
            message: e.emit_to_string_with_path(wgsl, file),
        })?;
    Ok(module)
}

/// Composes, validates and creates a shader module for an embedded file.
pub fn create_module(device: &wgpu::Device, path: &str) -> Result<wgpu::ShaderModule, GpuError> {
    let wgsl = compose(path)?;
    validate(path, &wgsl)?;
    Ok(device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(path),
        source: wgpu::ShaderSource::Wgsl(wgsl.into()),
    }))
}

/// The module of a custom layer: the user's source FIRST (so naga's line and column numbers in
/// errors are the user's own), then the custom layer's epilogue with everything it imports.
pub fn compose_custom(user_source: &str) -> Result<String, GpuError> {
    let epilogue = compose("layers/custom.wgsl")?;
    Ok(format!("{user_source}\n{epilogue}"))
}

/// Validates a custom layer's WGSL with naga. An error names the user's file, line and column
/// (`file:line:column: message`) followed by naga's annotated excerpt.
pub fn validate_custom(shader: &CustomShader) -> Result<naga::Module, GpuError> {
    validate_composed(shader, &compose_custom(&shader.source)?)
}

/// [`validate_custom`] of the already composed module `wgsl`.
fn validate_composed(shader: &CustomShader, wgsl: &str) -> Result<naga::Module, GpuError> {
    let user_lines = shader.source.lines().count().max(1);
    let locate = |loc: Option<naga::SourceLocation>, message: String, emitted: String| {
        let at = match loc {
            Some(l) if (l.line_number as usize) <= user_lines => {
                format!("{}:{}:{}: ", shader.file, l.line_number, l.line_position)
            }
            // Errors past the user's last line come from a missing or mistyped `shade`
            // function (the epilogue calls it).
            _ => format!("{}: ", shader.file),
        };
        GpuError::Shader {
            file: shader.file.to_string(),
            message: format!(
                "{at}{message}\n{emitted}\nA custom layer defines `fn shade(input: ShadeInput) \
                 -> vec4<f32>`; see shaders/layers/custom.wgsl for what it can use."
            ),
        }
    };
    let module = naga::front::wgsl::parse_str(wgsl).map_err(|e| {
        locate(
            e.location(wgsl),
            e.message().to_owned(),
            e.emit_to_string_with_path(wgsl, &shader.file),
        )
    })?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .map_err(|e| {
        let loc = e.spans().next().map(|(span, _)| span.location(wgsl));
        locate(
            loc,
            e.as_inner().to_string(),
            e.emit_to_string_with_path(wgsl, &shader.file),
        )
    })?;
    Ok(module)
}

/// Validates and creates the shader module of a custom layer (composed once for both).
pub fn create_custom_module(
    device: &wgpu::Device,
    shader: &CustomShader,
) -> Result<wgpu::ShaderModule, GpuError> {
    let wgsl = compose_custom(&shader.source)?;
    validate_composed(shader, &wgsl)?;
    Ok(device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(&shader.file),
        source: wgpu::ShaderSource::Wgsl(wgsl.into()),
    }))
}
