//! `kind = "custom"`: the user's own WGSL `fn shade(input: ShadeInput) -> vec4<f32>`, composed
//! with shaders/layers/custom.wgsl, fed up to 8 reactive `values`. The shader file is read and
//! validated once per job, by the preflight ([`LayerDef::preflight`]); a typo is a job error
//! naming the file, line and column, before any audio or GPU work.

use std::path::PathBuf;

use gpu::{CustomParams, CustomShader, LayerKind, LayerSpec};
use serde::Deserialize;

use super::values::{LayerTable, Reactivity, layer_struct, plain};
use super::{Builder, Frame, LayerDef, Part, Slot, blend_of};
use crate::RenderError;
use crate::expr::Reactive;
use crate::job::JobError;

/// `values` of a custom layer: up to 8 numbers or reactors.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(try_from = "Vec<Reactive>")]
pub struct Values(pub Vec<Reactive>);

impl TryFrom<Vec<Reactive>> for Values {
    type Error = String;
    fn try_from(v: Vec<Reactive>) -> Result<Self, String> {
        if v.len() > 8 {
            return Err(format!("values holds at most 8 numbers, got {}", v.len()));
        }
        Ok(Self(v))
    }
}

impl Reactivity for Values {
    fn is_reactive(&self) -> bool {
        self.0.iter().any(Reactive::is_reactive)
    }
}

plain!(CustomShader);

layer_struct!(
    /// `kind = "custom"`: your own WGSL `fn shade(input: ShadeInput) -> vec4<f32>`.
    CustomLayer {
        shader: PathBuf = PathBuf::new(),
        values: Values = Values::default(),
        /// Not a job key: the shader file's text, read and validated by the preflight (read
        /// when the layer is built where no preflight ran).
        #[serde(skip)]
        source: Option<CustomShader> = None,
    }
);

impl CustomLayer {
    /// Reads the shader file.
    fn read(&self) -> Result<CustomShader, std::io::Error> {
        Ok(CustomShader {
            file: self.shader.display().to_string().into(),
            source: std::fs::read_to_string(&self.shader)?.into(),
        })
    }
}

impl LayerDef for CustomLayer {
    const KIND: &'static str = "custom";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.0, 0.0, 1.0, 1.0]);

    fn check(&self) -> Result<(), String> {
        if self.shader.as_os_str().is_empty() {
            return Err("a custom layer needs shader = \"path/to/file.wgsl\"".into());
        }
        Ok(())
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        vec![&mut self.shader]
    }

    fn preflight(&mut self, job: &str) -> Result<(), JobError> {
        let shader = self.read().map_err(|e| JobError::Parse {
            path: job.to_owned(),
            message: format!(
                "custom layer: cannot read shader {}: {e}",
                self.shader.display()
            ),
        })?;
        gpu::shaders::validate_custom(&shader).map_err(|e| JobError::Shader(e.to_string()))?;
        self.source = Some(shader);
        Ok(())
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        let shader = match &self.source {
            Some(shader) => shader.clone(),
            None => self
                .read()
                .map_err(|e| super::picture::asset_error(&self.shader, "a WGSL shader", e))?,
        };
        let part = CustomPart {
            layer: self.clone(),
            shader,
        };
        let spec = LayerSpec {
            kind: part.params(&b.frame()),
            blend: blend_of(self),
            image: None,
            dynamic_alpha: true,
        };
        b.push(part, spec);
        Ok(())
    }
}

#[derive(Debug)]
struct CustomPart {
    layer: CustomLayer,
    shader: CustomShader,
}

impl CustomPart {
    fn params(&self, f: &Frame<'_>) -> LayerKind {
        let l = &self.layer;
        let mut values = [0.0f32; 8];
        for (v, r) in values.iter_mut().zip(&l.values.0) {
            *v = r.eval(f.vars);
        }
        LayerKind::Custom(
            CustomParams {
                rect: f.rect(l),
                values,
                opacity: l.opacity.at(f.vars),
                _pad: [0.0; 3],
            },
            self.shader.clone(),
        )
    }
}

impl Part for CustomPart {
    fn is_dynamic(&self) -> bool {
        self.layer.is_reactive()
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        slot.set_params(&self.params(f))
    }
}
