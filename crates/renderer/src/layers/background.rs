//! `kind = "background"`: a colour or a gradient, and optionally a picture or looping video
//! over it (a second GPU layer) that zooms slowly or pulses on beats.

use std::path::PathBuf;

use gpu::{BackgroundParams, ImageParams, LayerKind, LayerSpec};

use super::picture::{Picture, fit_uv};
use super::values::{Fit, Fraction, layer_struct};
use super::{Builder, Frame, LayerDef, Part, Plain, Slot, blend_of};
use crate::RenderError;
use crate::expr::Var;
use crate::job::Color;

layer_struct!(
    /// `kind = "background"`: a colour, a gradient, an image or a looping video, optionally
    /// zooming slowly or pulsing on beats.
    BackgroundLayer {
        color: Color = Color([0x10, 0x12, 0x1c, 255]),
        color2: Option<Color> = None,
        angle: f64 = 90.0,
        /// A PNG or JPEG drawn over the colour.
        image: Option<PathBuf> = None,
        /// A video (any format ffmpeg reads), looped, drawn over the colour.
        video: Option<PathBuf> = None,
        fit: Fit = Fit::Cover,
        /// Slow zoom: the image grows by this fraction over the whole render.
        zoom: Fraction = Fraction::from(0.0),
        /// Beat pulse: the image grows by this fraction on each beat, then settles.
        pulse: Fraction = Fraction::from(0.0),
    }
);

impl LayerDef for BackgroundLayer {
    const KIND: &'static str = "background";
    const DEFAULT_RECT: Option<[f32; 4]> = None;

    fn check(&self) -> Result<(), String> {
        if self.image.is_some() && self.video.is_some() {
            return Err("give either image or video, not both".into());
        }
        Ok(())
    }

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.image.iter_mut().chain(self.video.iter_mut()).collect()
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        // Opaque unless its opacity reacts: then it may not be drawn as the base layer.
        let dynamic_alpha = self.opacity.is_reactive();
        let spec = LayerSpec {
            kind: colour(self, &b.frame()),
            blend: blend_of(self),
            image: None,
            dynamic_alpha,
        };
        b.push(Plain::new(self.clone(), dynamic_alpha, colour), spec);
        let Some(path) = self.image.as_ref().or(self.video.as_ref()) else {
            return Ok(());
        };
        let rect = b.frame().rect(self);
        let (picture, image) = Picture::open(path, self.video.is_some(), self.fit, rect)?;
        let part = BackgroundPicture {
            layer: self.clone(),
            picture,
        };
        let spec = LayerSpec {
            kind: part.params(&b.frame()),
            // Drawn like the colour would be drawn over it: plain "over".
            blend: gpu::BlendMode::Normal,
            image: Some(image),
            dynamic_alpha,
        };
        b.push(part, spec);
        Ok(())
    }
}

fn colour(l: &BackgroundLayer, f: &Frame<'_>) -> LayerKind {
    let a = l.color.to_gpu().0;
    let angle = (l.angle as f32).to_radians();
    LayerKind::Background(BackgroundParams {
        color_a: a,
        color_b: l.color2.map(|c| c.to_gpu().0).unwrap_or(a),
        direction: [angle.cos(), angle.sin()],
        mode: u32::from(l.color2.is_some()),
        opacity: l.opacity.at(f.vars),
    })
}

/// The background's picture or video, zooming and pulsing.
#[derive(Debug)]
struct BackgroundPicture {
    layer: BackgroundLayer,
    picture: Picture,
}

impl BackgroundPicture {
    fn params(&self, f: &Frame<'_>) -> LayerKind {
        let l = &self.layer;
        let rect = f.rect(l);
        let zoom = 1.0
            + l.zoom.at(f.vars) * f.vars.get(Var::Progress)
            + l.pulse.at(f.vars) * f.vars.get(Var::Pulse);
        LayerKind::Image(ImageParams {
            rect,
            uv_transform: fit_uv(l.fit, self.picture.size, rect, zoom),
            tint: [1.0; 4],
            opacity: l.opacity.at(f.vars),
            shape: 0,
            corner: 0.0,
            _pad: 0.0,
        })
    }
}

impl Part for BackgroundPicture {
    fn is_dynamic(&self) -> bool {
        let l = &self.layer;
        let rest = crate::expr::Vars::default();
        self.picture.is_video()
            || l.zoom.at(&rest) > 0.0
            || l.pulse.at(&rest) > 0.0
            || l.zoom.is_reactive()
            || l.pulse.is_reactive()
            || l.opacity.is_reactive()
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        self.picture.next_frame(f, slot)?;
        slot.set_params(&self.params(f))
    }
}
