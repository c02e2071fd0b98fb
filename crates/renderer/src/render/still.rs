//! `render_still` (`--preview`): one frame, read back as RGBA and written to a PNG.

use std::time::{Duration, Instant};

use audio::{AudioDecoder, FrameAnalyzer};
use gpu::{AdapterChoice, AdapterSummary, FrameRenderer, GpuContext, RendererConfig};

use super::plan::{Plan, analysis_config, context_options, frame_inputs, frame_stride};
use crate::RenderError;
use crate::expr::Var;
use crate::job::Job;
use crate::scene::Scene;

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
    job.validate()?;
    let video = &job.video;
    let (width, height, fps) = (video.width.0, video.height.0, video.fps.0);
    let decoder = AudioDecoder::open(&job.audio)?;
    let info = decoder.info().clone();
    let total = info.duration_secs();
    if !(time.is_finite() && time >= 0.0 && time < total) {
        return Err(RenderError::Job(crate::JobError::Invalid {
            what: "--preview".into(),
            message: format!(
                "time {time} s is outside the audio ({total:.3} s long) of {}",
                job.audio.display()
            ),
        }));
    }
    // The frame on the job's frame grid (counted from `start`) nearest `time`.
    let frame = ((time - job.start) * fps).round();
    let shown = (job.start + frame * fps.recip()).clamp(0.0, total - 0.5 / fps);
    let (mut scene, specs) = Scene::new(&job.layers, width, height, fps, &job.audio)?;
    let mut plan = Plan::new(
        &info,
        &job.audio,
        shown,
        Some(1.0 / fps),
        fps,
        scene.preroll_seconds(),
    )?;
    // Reactors see the whole render's progress, not the still's.
    let render_len = job
        .duration
        .map_or(total - job.start, |d| d.min(total - job.start));
    plan.start = job.start;
    plan.seconds = ((render_len * fps).round().max(1.0)) / fps;
    let mut analyzer = FrameAnalyzer::new(
        decoder,
        fps,
        plan.analysis_start,
        Some(plan.analysis_frames() as f64 / fps),
        analysis_config(job),
    )?;
    let bands = analyzer.band_count() as u32;
    let points = analyzer.buffers().waveform.len() as u32 / 2;
    let ctx = match gpu {
        Some(ctx) => ctx,
        None => GpuContext::with_options(
            &video.adapter.parse::<AdapterChoice>().unwrap_or_default(),
            context_options(job),
        )?,
    };
    let mut renderer = FrameRenderer::new(
        &ctx,
        RendererConfig {
            width,
            height,
            ring_slots: 2,
            chunk_frames: 1,
            frame_stride: frame_stride(bands, points),
            bands,
        },
        &specs,
    )?;
    scene.prepare_gpu(&ctx)?;
    let mut buffers = analyzer.buffers();
    let mut levels = Vec::new();
    let mut index = 0u64;
    let mut rgba = None;
    while let Some(f) = analyzer.next_frame(&mut buffers)? {
        levels.clear();
        levels.extend_from_slice(&buffers.bands);
        levels.extend_from_slice(&buffers.peaks);
        levels.extend_from_slice(&buffers.waveform);
        levels.extend_from_slice(&buffers.waveform_stereo);
        renderer.upload_spectrum(&levels)?;
        let drawn = index >= plan.preroll_frames;
        let (uniforms, mut vars) =
            frame_inputs(&f, 0, bands, points, [width, height], &plan, index);
        vars.set(Var::Frame, frame as f32);
        scene.update(&mut renderer, &vars, f64::from(f.time), drawn)?;
        if drawn {
            rgba = Some(renderer.render_rgba(&uniforms)?);
            break;
        }
        renderer.advance(&uniforms)?;
        index += 1;
    }
    let rgba = rgba.ok_or_else(|| RenderError::Thread("the analysis gave no frame".into()))?;
    write_png(output, width, height, &rgba)?;
    Ok(StillSummary {
        path: output.to_owned(),
        time: shown,
        width,
        height,
        elapsed: started.elapsed(),
        adapter: ctx.adapter.clone(),
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
