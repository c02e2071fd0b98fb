//! `renderer studio JOB.toml`: the studio's web server (crate `studio`) over this renderer — its
//! [`studio::Backend`] reads jobs with [`Job::from_file`], draws frames with
//! [`renderer::Preview`] and renders with [`renderer::render`], all on one device.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use renderer::{Job, Preview, RenderOptions};
use studio::{Backend, Frame, FrameRequest, JobInfo, LayerInfo, Problem, RenderProgress, Timeline};

/// Design a video in the browser: the frame at the playhead drawn live by the real GPU
/// pipeline, redrawn whenever the job file (or any file it names) is saved.
///
/// Serves a page on 127.0.0.1 and prints its URL (with a per-run token that every request
/// needs); opens it in the browser where there is one. The page shows the frame, a timeline
/// (waveform, loudness, beats, chapters, captions) to scrub, plays the audio with frames drawn as
/// fast as the renderer can, edits and saves the job, toggles layers, and starts the full render.
/// Stop it with Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "renderer studio", bin_name = "renderer studio")]
pub struct StudioCli {
    /// The job file (TOML).
    job: PathBuf,
    /// Port on 127.0.0.1 (default 0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The page's default preview size, a fraction of the job's (0.05..=1; 1 = full size).
    #[arg(long, default_value_t = 0.5)]
    scale: f64,
    /// Do not open a browser.
    #[arg(long)]
    no_open: bool,
}

/// Runs the studio until Ctrl-C.
pub fn run(cli: &StudioCli) -> anyhow::Result<()> {
    let options = studio::Options {
        job: cli.job.clone(),
        port: cli.port,
        scale: cli.scale,
    };
    let open = !cli.no_open;
    studio::serve(RendererBackend::default(), options, |s| {
        use std::io::Write;
        println!("studio: {}", s.url);
        let _ = std::io::stdout().flush();
        if open {
            open_browser(&s.url);
        }
    })?;
    Ok(())
}

/// Opens `url` with the desktop's handler, where there is a desktop.
fn open_browser(url: &str) {
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !desktop {
        return;
    }
    let started = std::process::Command::new("xdg-open")
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if started.is_err() {
        log::info!("studio: no xdg-open here; open the URL above in a browser");
    }
}

/// The last job that loaded, and its revision.
struct Loaded {
    job: Arc<Job>,
    revision: u64,
}

#[derive(Default)]
struct RendererBackend {
    loaded: Mutex<Option<Loaded>>,
    preview: Mutex<Preview>,
    /// The last timeline's sound (peaks, loudness, beats) and what it was made from: edits that
    /// leave the audio and its analysis alone reuse it.
    sound: Mutex<Option<(String, renderer::Overview)>>,
}

/// What a timeline's sound depends on: the audio file (path, size, time) and the analysis of it.
fn sound_key(job: &Job) -> String {
    let file = std::fs::metadata(&job.audio)
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    format!(
        "{:?} {file:?} {} {:?} {} {:?}",
        job.audio, job.start, job.duration, job.video.fps.0, job.analysis
    )
}

impl RendererBackend {
    fn current(&self) -> Result<(Arc<Job>, u64), Problem> {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|l| (l.job.clone(), l.revision))
            .ok_or_else(|| Problem::plain("no job has loaded yet"))
    }
}

impl Backend for RendererBackend {
    fn load(&self, path: &Path) -> Result<JobInfo, Problem> {
        let job = Job::from_file(path).map_err(|e| Problem::locate(e.to_string(), path))?;
        // The audio's length (a missing or unreadable file is the job's error, shown now).
        let decoder = audio::AudioDecoder::open(&job.audio)
            .map_err(|e| Problem::plain(format!("audio: {e}")))?;
        let audio_duration = decoder.info().duration_secs();
        if job.start >= audio_duration {
            return Err(Problem::plain(format!(
                "start {} s is past the end of the audio ({audio_duration:.3} s)",
                job.start
            )));
        }
        let end = job
            .duration
            .map_or(audio_duration, |d| (job.start + d).min(audio_duration));
        let layers = job
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| LayerInfo {
                index,
                kind: layer.kind_name().to_owned(),
                label: label(layer),
            })
            .collect();
        let output_kind = match job.output.extension().and_then(|e| e.to_str()) {
            Some("webm") => "video/webm",
            Some("mov") => "video/quicktime",
            Some("gif") => "image/gif",
            Some("png" | "apng") => "image/apng",
            _ => "video/mp4",
        };
        let info = JobInfo {
            width: job.video.width.0,
            height: job.video.height.0,
            fps: job.video.fps.0,
            start: job.start,
            end,
            audio_duration,
            layers,
            output: job.output.clone(),
            output_kind: output_kind.into(),
            audio: job.audio.clone(),
            files: job.files(),
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let revision = loaded.as_ref().map_or(1, |l| l.revision + 1);
        *loaded = Some(Loaded {
            job: Arc::new(job),
            revision,
        });
        Ok(info)
    }

    fn frame(&self, request: &FrameRequest) -> Result<Frame, Problem> {
        let (job, revision) = self.current()?;
        let mut job = Job::clone(&job);
        job.scale(request.scale)
            .map_err(|m| Problem::plain(format!("scale: {m}")))?;
        let mut index = 0;
        job.layers.retain(|_| {
            index += 1;
            !request.hidden.contains(&(index - 1))
        });
        // A stream continues only for the same job, size and layers.
        let mut key = std::collections::hash_map::DefaultHasher::new();
        (revision, request.scale.to_bits(), &request.hidden).hash(&mut key);
        let drawn = self
            .preview
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .frame(&job, key.finish(), request.time)
            .map_err(|e| Problem::plain(e.to_string()))?;
        let png = encode_png(&drawn.rgba, drawn.width, drawn.height)?;
        Ok(Frame {
            png,
            time: drawn.time,
        })
    }

    fn timeline(&self) -> Result<Timeline, Problem> {
        let (job, _) = self.current()?;
        let key = sound_key(&job);
        let mut sound = self.sound.lock().unwrap_or_else(PoisonError::into_inner);
        let mut o = match sound.take() {
            Some((k, o)) if k == key => o,
            _ => renderer::overview(&job).map_err(|e| Problem::plain(e.to_string()))?,
        };
        o.set_marks(&job);
        *sound = Some((key, o.clone()));
        drop(sound);
        let end = o.start + o.peaks.len() as f64 / o.fps;
        Ok(Timeline {
            start: o.start,
            end,
            bucket_seconds: 1.0 / o.fps,
            waveform: o.peaks,
            loudness: o
                .loudness
                .iter()
                .map(|l| ((l + 60.0) / 60.0).clamp(0.0, 1.0))
                .collect(),
            beats: o.beats,
            chapters: o
                .chapters
                .into_iter()
                .map(|(time, title)| studio::Chapter { time, title })
                .collect(),
            captions: o
                .captions
                .into_iter()
                .map(|(start, end, text)| studio::Caption { start, end, text })
                .collect(),
        })
    }

    fn render(
        &self,
        progress: &mut dyn FnMut(RenderProgress),
        cancel: Arc<AtomicBool>,
    ) -> Result<PathBuf, Problem> {
        let (job, _) = self.current()?;
        // The preview's device (made now if no frame has been drawn yet): one device in all.
        let gpu = self
            .preview
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .gpu_for(&job)
            .map_err(|e| Problem::plain(e.to_string()))?;
        let mut on_progress = |p: &renderer::Progress| {
            progress(RenderProgress {
                done: p.frames_done,
                total: p.frames_total,
                fps: p.fps(),
                eta_seconds: p.eta().map(|d| d.as_secs_f64()),
            });
        };
        let summary = renderer::render(
            &job,
            RenderOptions {
                progress: Some(&mut on_progress),
                cancel: Some(cancel),
                gpu: Some(gpu),
                ..Default::default()
            },
        )
        .map_err(|e| Problem::plain(e.to_string()))?;
        log::info!("studio: {summary}");
        Ok(job.output.clone())
    }
}

/// A layer's name in the list: its kind, and the file it shows where it has one.
fn label(layer: &renderer::job::Layer) -> String {
    let kind = layer.kind_name();
    let files = layer.files();
    match files
        .iter()
        .find(|f| !f.as_os_str().is_empty())
        .and_then(|f| f.file_name())
    {
        Some(name) => format!("{kind} ({})", name.to_string_lossy()),
        None => kind.to_owned(),
    }
}

/// PNG with fast compression: a preview frame is encoded in a few milliseconds.
fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Problem> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::with_capacity(rgba.len() / 2);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| Problem::plain(format!("cannot encode the frame as PNG: {e}")))?;
    Ok(out)
}
