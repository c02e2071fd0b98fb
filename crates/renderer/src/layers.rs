//! Job layers -> GPU layer parameters (pixel rects, linear colours).

use gpu::{BackgroundParams, BarsParams, LayerSpec};

use crate::job::Layer;

/// Converts the job's layer list for a `width` x `height` frame.
pub fn to_gpu(layers: &[Layer], width: u32, height: u32) -> Vec<LayerSpec> {
    let (w, h) = (width as f32, height as f32);
    layers
        .iter()
        .map(|layer| match layer {
            Layer::Background(b) => {
                let a = b.color.to_gpu().0;
                let angle = (b.angle as f32).to_radians();
                LayerSpec::Background(BackgroundParams {
                    color_a: a,
                    color_b: b.color2.map(|c| c.to_gpu().0).unwrap_or(a),
                    direction: [angle.cos(), angle.sin()],
                    mode: u32::from(b.color2.is_some()),
                    opacity: b.opacity.0,
                })
            }
            Layer::Bars(b) => {
                let [x, y, rw, rh] = b.rect.0;
                let a = b.color.to_gpu().to_linear();
                LayerSpec::Bars(BarsParams {
                    rect: [x * w, y * h, rw * w, rh * h],
                    color_a: a,
                    color_b: b.color2.map(|c| c.to_gpu().to_linear()).unwrap_or(a),
                    count: b.count.0,
                    gap: b.gap.0.min(0.95),
                    radius: b.radius.0.min(0.5),
                    mode: u32::from(b.mirror),
                    opacity: b.opacity.0,
                    min_height: (h / 270.0).max(1.0),
                    _pad: [0.0; 2],
                })
            }
        })
        .collect()
}
