//! The preflight: the checks of a parsed job that read files or start processes, kept apart
//! from parsing (which stays pure: what the fuzzer runs). Each layer kind runs its own
//! ([`crate::layers::LayerDef::preflight`]: a custom layer reads and validates its shader once
//! and keeps it for the render); then a full-frame avatar over a face video gives the output
//! the video's size and rate where the job sets neither. A job without layers gets the default
//! style ([`crate::styles`]), titled from the audio's tags; a chapters file is read.

use crate::job::{Dimension, Fps, Job, JobError, Layer};
use crate::layers::picture::is_still;

/// Runs the preflight on `job`; `name` (the job file) labels errors.
pub(crate) fn run(job: &mut Job, name: &str) -> Result<(), JobError> {
    if job.layers.is_empty() {
        job.layers = crate::styles::default_layers(&job.audio)?;
        log::info!(
            "{name}: no [[layer]]: drawn with the default style \"{}\" (renderer --styles lists \
             the others; renderer --print-job AUDIO --style NAME prints one to start from)",
            crate::styles::DEFAULT_STYLE
        );
    }
    if let Some(file) = &job.chapters_file
        && job.chapters.is_empty()
    {
        let text = std::fs::read_to_string(file).map_err(|e| JobError::Parse {
            path: name.to_owned(),
            message: format!("cannot read the chapters file {}: {e}", file.display()),
        })?;
        job.chapters = crate::job::chapters::parse_file(&text).map_err(|e| JobError::Parse {
            path: name.to_owned(),
            message: format!("chapters file {}: {e}", file.display()),
        })?;
    }
    // Custom shaders are validated now, so a typo is a job error (exit status 2) that names
    // the shader file, line and column, before any audio or GPU work.
    for layer in &mut job.layers {
        layer.preflight(name)?;
    }
    match_avatar_video(job, name)
}

/// The classic Wav2Lip use: when the job sets no size or no fps and its first avatar layer
/// covers the whole frame with a face video, the output takes the video's size (rounded to
/// even) and frame rate.
fn match_avatar_video(job: &mut Job, name: &str) -> Result<(), JobError> {
    if job.video.size_given && job.video.fps_given {
        return Ok(());
    }
    let Some(avatar) = job.layers.iter().find_map(|l| match l {
        Layer::Avatar(a) if a.rect.is_none() && a.rect_px.is_none() => Some(a),
        _ => None,
    }) else {
        return Ok(());
    };
    if is_still(&avatar.face) {
        return Ok(());
    }
    let info = media::video::probe_video(&avatar.face).map_err(|e| JobError::Parse {
        path: name.to_owned(),
        message: format!("avatar layer: {e}"),
    })?;
    if !job.video.size_given {
        let even = |v: u32| (v / 2 * 2).clamp(2, 7680);
        job.video.width = Dimension(even(info.width));
        job.video.height = Dimension(even(info.height));
    }
    if !job.video.fps_given
        && let Some(fps) = info.fps.filter(|f| (1.0..=120.0).contains(f))
    {
        job.video.fps = Fps(fps);
    }
    log::info!(
        "output {}x{} @ {:.3} fps, from the avatar's face video {}",
        job.video.width.0,
        job.video.height.0,
        job.video.fps.0,
        avatar.face.display()
    );
    Ok(())
}
