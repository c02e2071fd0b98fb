//! `render_still` (`--preview`): one frame, read back as RGBA and written to a PNG.

use std::time::{Duration, Instant};

use gpu::{AdapterSummary, GpuContext};

use super::Limits;
use super::analysis::push_levels;
use super::open::{Opened, Span, gpu_context};
use super::plan::still_frame;
use crate::RenderError;
use crate::job::Job;

/// What a still reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StillSummary {
    pub path: std::path::PathBuf,
    /// The time shown, seconds into the audio (on the job's frame grid).
    pub time: f64,
    pub width: u32,
    pub height: u32,
    pub elapsed: Duration,
    pub adapter: AdapterSummary,
}

/// Renders the single frame at `time` seconds into the audio to a PNG at `output` (written to a
/// temporary file, then renamed): no encoder, no audio muxing. Stateful layers (spectrogram,
/// particles) are warmed up on the audio before `time`, so the still matches the frame a full
/// render shows at that time.
pub fn render_still(
    job: &Job,
    time: f64,
    output: &std::path::Path,
    gpu: Option<GpuContext>,
) -> Result<StillSummary, RenderError> {
    let started = Instant::now();
    let opened = Opened::open(job, Span::Still { time }, &Limits::default())?;
    let shown = still_frame(job, time, opened.info.duration_secs()).1;
    let ctx = gpu_context(job, gpu)?;
    // A still is read as RGBA (straight alpha over a transparent background), not from the ring.
    let frames = super::sink::Frames {
        transparent: job.video.background == crate::job::BackgroundChoice::Transparent,
        ..Default::default()
    };
    let (mut pipeline, mut analyzer) = opened.start_gpu(ctx, frames)?;
    let mut buffers = analyzer.buffers();
    let mut levels = Vec::new();
    let mut index = 0u64;
    let rgba = loop {
        let Some(f) = analyzer.next_frame(&mut buffers)? else {
            return Err(RenderError::FrameCount {
                rendered: 0,
                expected: 1,
            });
        };
        levels.clear();
        push_levels(&mut levels, &buffers);
        pipeline.renderer.upload_spectrum(&levels)?;
        if let Some(uniforms) = pipeline.step(&f, 0, index)? {
            break pipeline.renderer.render_rgba(&uniforms)?;
        }
        index += 1;
    };
    let (width, height) = (job.video.width.0, job.video.height.0);
    write_png(output, width, height, &rgba)?;
    Ok(StillSummary {
        path: output.to_owned(),
        time: shown,
        width,
        height,
        elapsed: started.elapsed(),
        adapter: pipeline.ctx.adapter.clone(),
    })
}

/// Writes RGBA8 as a PNG through a temporary file in the same folder, renamed into place.
pub fn write_png(
    path: &std::path::Path,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> Result<(), RenderError> {
    let tmp = media::temp_path_for(path);
    let result = image::save_buffer_with_format(
        &tmp,
        rgba,
        width,
        height,
        image::ExtendedColorType::Rgba8,
        image::ImageFormat::Png,
    )
    .map_err(|e| RenderError::Asset {
        path: path.to_owned(),
        message: format!("cannot write the PNG: {e}"),
    })
    .and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| RenderError::Asset {
            path: path.to_owned(),
            message: format!("cannot move the finished PNG into place: {e}"),
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
