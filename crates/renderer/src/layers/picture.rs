//! Pictures drawn by layers (a background's image or video, an image layer, a radial
//! spectrum's cover, an avatar's face): PNG/JPEG stills decoded once, videos decoded by an
//! ffmpeg child at the size they are shown and looped, and the uv transform that fits a picture
//! into its rectangle.

use std::path::{Path, PathBuf};

use gpu::LayerImage;
use media::video::{VideoFrameOptions, VideoFrames, probe_video};

use super::values::Fit;
use super::{Frame, Slot};
use crate::RenderError;

pub(crate) fn asset_error(path: &Path, what: &str, reason: impl std::fmt::Display) -> RenderError {
    RenderError::Asset {
        path: path.to_owned(),
        message: format!("cannot use it as {what}: {reason}"),
    }
}

/// True for the picture formats drawn as stills; anything else is decoded as a video.
pub(crate) fn is_still(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Loads a PNG or JPEG as sRGB RGBA8.
pub(crate) fn load_image(path: &Path) -> Result<LayerImage, RenderError> {
    let img = image::ImageReader::open(path)
        .map_err(|e| asset_error(path, "an image", e))?
        .with_guessed_format()
        .map_err(|e| asset_error(path, "an image", e))?
        .decode()
        .map_err(|e| {
            asset_error(
                path,
                "an image",
                format!("{e} (PNG and JPEG files are supported)"),
            )
        })?;
    let rgba = img.to_rgba8();
    let (width, height) = rgba.dimensions();
    if width > 16_384 || height > 16_384 {
        return Err(asset_error(
            path,
            "an image",
            format!("{width}x{height} is larger than 16384 pixels per side"),
        ));
    }
    Ok(LayerImage::Rgba {
        width,
        height,
        pixels: rgba.into_raw(),
    })
}

/// The uv transform that fits a `picture` into a `rect` (pixels), zoomed in by `zoom` >= 1.
pub(crate) fn fit_uv(fit: Fit, picture: (u32, u32), rect: [f32; 4], zoom: f32) -> [f32; 4] {
    let ai = picture.0 as f32 / picture.1.max(1) as f32;
    let ar = rect[2].max(1e-3) / rect[3].max(1e-3);
    let (scale, offset) = match fit {
        Fit::Stretch => ([1.0, 1.0], [0.0, 0.0]),
        Fit::Cover if ai > ar => ([ar / ai, 1.0], [(1.0 - ar / ai) / 2.0, 0.0]),
        Fit::Cover => ([1.0, ai / ar], [0.0, (1.0 - ai / ar) / 2.0]),
        Fit::Contain if ai > ar => {
            let h = ar / ai;
            ([1.0, 1.0 / h], [0.0, -(1.0 - h) / 2.0 / h])
        }
        Fit::Contain => {
            let w = ai / ar;
            ([1.0 / w, 1.0], [-(1.0 - w) / 2.0 / w, 0.0])
        }
    };
    let z = zoom.max(1e-3);
    let centre = [offset[0] + 0.5 * scale[0], offset[1] + 0.5 * scale[1]];
    let s = [scale[0] / z, scale[1] / z];
    [centre[0] - 0.5 * s[0], centre[1] - 0.5 * s[1], s[0], s[1]]
}

/// Scales a rectangle about its centre.
pub(crate) fn scale_rect(r: [f32; 4], s: f32) -> [f32; 4] {
    let (cx, cy) = (r[0] + 0.5 * r[2], r[1] + 0.5 * r[3]);
    [cx - 0.5 * r[2] * s, cy - 0.5 * r[3] * s, r[2] * s, r[3] * s]
}

/// Size (even, >= 2) at which to decode a video shown in `rect` with `fit`.
fn video_size(info: (u32, u32), rect: [f32; 4], fit: Fit) -> (u32, u32) {
    let ai = info.0 as f32 / info.1.max(1) as f32;
    let (rw, rh) = (rect[2].max(2.0), rect[3].max(2.0));
    let (w, h) = match fit {
        Fit::Stretch => (rw, rh),
        Fit::Cover => {
            if ai > rw / rh {
                (rh * ai, rh)
            } else {
                (rw, rw / ai)
            }
        }
        Fit::Contain => {
            if ai > rw / rh {
                (rw, rw / ai)
            } else {
                (rh * ai, rh)
            }
        }
    };
    let even = |v: f32| ((v.min(8192.0) / 2.0).round().max(1.0) as u32) * 2;
    (even(w), even(h))
}

/// A layer's picture: a still (uploaded once) or a looping video whose frames replace the
/// layer's texture.
#[derive(Debug)]
pub(crate) struct Picture {
    /// Pixels of the texture (a video's decoded size).
    pub size: (u32, u32),
    video: Option<Video>,
}

#[derive(Debug)]
struct Video {
    path: PathBuf,
    /// Spawned at the first frame that shows it (or, for an avatar, tracks its face); that
    /// frame's time sets the start.
    frames: Option<VideoFrames>,
}

impl Picture {
    /// Opens `path`: a video when `video` is set (decoded at the size `rect` shows it with
    /// `fit`; the first texture is opaque black until a frame arrives), else a PNG or JPEG.
    pub(crate) fn open(
        path: &Path,
        video: bool,
        fit: Fit,
        rect: [f32; 4],
    ) -> Result<(Self, LayerImage), RenderError> {
        if !video {
            let image = load_image(path)?;
            let picture = Self {
                size: image.size(),
                video: None,
            };
            return Ok((picture, image));
        }
        let info = probe_video(path)?;
        let (w, h) = video_size((info.width, info.height), rect, fit);
        let image = LayerImage::Rgba {
            width: w,
            height: h,
            // Decoded video frames are opaque; formats with alpha are drawn as if they were
            // not.
            pixels: [0, 0, 0, 255].repeat((w * h) as usize),
        };
        let picture = Self {
            size: (w, h),
            video: Some(Video {
                path: path.to_owned(),
                frames: None,
            }),
        };
        Ok((picture, image))
    }

    pub(crate) fn is_video(&self) -> bool {
        self.video.is_some()
    }

    /// A video's next frame into the layer's texture (its bytes stay in `slot.frame_buffer`).
    /// False for a still, or when no frame came.
    pub(crate) fn next_frame(
        &mut self,
        frame: &Frame<'_>,
        slot: &mut Slot<'_>,
    ) -> Result<bool, RenderError> {
        let Some(video) = self.video.as_mut() else {
            return Ok(false);
        };
        let (w, h) = self.size;
        if video.frames.is_none() {
            video.frames = Some(VideoFrames::spawn(
                &video.path,
                &VideoFrameOptions {
                    width: w,
                    height: h,
                    fps: frame.fps,
                    start: frame.time.max(0.0),
                    looped: true,
                },
            )?);
        }
        let mut buf = std::mem::take(slot.frame_buffer);
        let got = match video.frames.as_mut() {
            Some(v) => v.next_frame(&mut buf)?,
            None => false,
        };
        if got {
            let img = LayerImage::Rgba {
                width: w,
                height: h,
                pixels: buf,
            };
            slot.set_image(&img)?;
            let LayerImage::Rgba { pixels, .. } = img else {
                unreachable!("constructed as Rgba above")
            };
            buf = pixels;
        }
        *slot.frame_buffer = buf;
        Ok(got)
    }
}
