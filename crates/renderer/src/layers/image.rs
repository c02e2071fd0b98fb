//! `kind = "image"`: a picture or logo (PNG with alpha, JPEG) or a looping video, in a
//! rectangle or a circle, with rounded corners and a reactive scale.

use std::path::PathBuf;

use gpu::{ImageParams, LayerKind, LayerSpec};
use serde::Deserialize;

use super::picture::{Picture, fit_uv, scale_rect};
use super::values::{Fit, LayerTable, Pixels, Scale, layer_struct, plain};
use super::{Builder, Frame, LayerDef, Part, Slot, blend_of};
use crate::RenderError;

/// Shape an image is clipped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    #[default]
    Rect,
    Circle,
}

plain!(Shape);

layer_struct!(
    /// `kind = "image"`: a picture or logo (PNG with alpha, JPEG), or a looping video.
    ImageLayer {
        path: Option<PathBuf> = None,
        video: Option<PathBuf> = None,
        fit: Fit = Fit::Contain,
        shape: Shape = Shape::Rect,
        /// Corner radius, px at 1080p.
        corner: Pixels = Pixels::from(0.0),
        /// Scale around the rectangle's centre.
        scale: Scale = Scale::from(1.0),
    }
);

impl LayerDef for ImageLayer {
    const KIND: &'static str = "image";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.3, 0.3, 0.4, 0.4]);

    fn check(&self) -> Result<(), String> {
        if self.path.is_some() == self.video.is_some() {
            return Err("an image layer needs exactly one of path (PNG/JPEG) or video".into());
        }
        Ok(())
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.path.iter_mut().chain(self.video.iter_mut()).collect()
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        let Some(path) = self.path.as_ref().or(self.video.as_ref()) else {
            return Err(RenderError::Job(crate::job::JobError::Invalid {
                what: "image layer".into(),
                message: "needs exactly one of path (PNG/JPEG) or video".into(),
            }));
        };
        let rect = b.frame().rect(self);
        let (picture, image) = Picture::open(path, self.video.is_some(), self.fit, rect)?;
        let part = ImagePart {
            layer: self.clone(),
            picture,
        };
        let spec = LayerSpec {
            kind: part.params(&b.frame()),
            blend: blend_of(self),
            image: Some(image),
            // A reactive placement, scale or opacity may uncover the frame: never a base layer.
            dynamic_alpha: self.is_reactive(),
        };
        b.push(part, spec);
        Ok(())
    }
}

#[derive(Debug)]
struct ImagePart {
    layer: ImageLayer,
    picture: Picture,
}

impl ImagePart {
    fn params(&self, f: &Frame<'_>) -> LayerKind {
        let l = &self.layer;
        let r = scale_rect(f.rect(l), l.scale.at(f.vars));
        LayerKind::Image(ImageParams {
            rect: r,
            uv_transform: fit_uv(l.fit, self.picture.size, r, 1.0),
            tint: [1.0; 4],
            opacity: l.opacity.at(f.vars),
            shape: u32::from(l.shape == Shape::Circle),
            corner: l.corner.at(f.vars) * f.px,
            _pad: 0.0,
        })
    }
}

impl Part for ImagePart {
    fn is_dynamic(&self) -> bool {
        self.picture.is_video() || self.layer.is_reactive()
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        self.picture.next_frame(f, slot)?;
        slot.set_params(&self.params(f))
    }
}
