//! The WGSL shader library: every file under `shaders/` is embedded at build time.
//!
//! A shader pulls in shared code with a line `// #import <path>` (path relative to `shaders/`).
//! [`compose`] expands imports (each file once) and [`validate`] runs naga's WGSL front end and
//! validator, so a broken shader is reported with its file, line and column before any GPU work.

use crate::GpuError;

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
    "layers/background.wgsl",
    "layers/bars.wgsl",
    "color/nv12.wgsl",
);

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
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
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
