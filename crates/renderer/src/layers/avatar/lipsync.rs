//! The avatar layer's lip sync, all on the job's GPU device: the face picture (a still or the
//! current video frame) is already a texture of the frame renderer; MTCNN finds the face in it,
//! the crop is resized to Wav2Lip's 96x96 input on the GPU, the generator writes the new face
//! straight into the avatar layer's storage buffer, and the layer's shader blends it back with a
//! feathered mask. Only face boxes (and MTCNN's scores) reach the CPU, never pixels.
//!
//! On a software adapter (lavapipe, llvmpipe) the CPU is the device: the layer's `backend`
//! ("auto" by default) then runs the networks natively on the CPU ([`wav2lip::native`]) from the
//! picture's bytes, which the CPU already has (the decoded still or video frame), and uploads
//! the generated 96x96 face (110 KB) into the same storage buffer. On a GPU adapter nothing
//! leaves the GPU.
//!
//! Batches: for a still face the crop is the same on every frame, so the generator runs once
//! per `batch` frames (the layer key; 16 on the CPU, 64 on a GPU by default) on the absolute
//! frame grid: frames
//! `k * batch ..` are generated together, ahead of drawing, and each drawn frame copies its
//! 96x96 slice into the layer's buffer. A segment or preview starting inside a batch
//! generates that whole batch, so its frames equal a whole render's. Video faces (a new crop
//! every frame) run one frame at a time.
//!
//! Speech: the speech track (the job's audio unless the layer names another file) is decoded
//! alongside the render ([`MelStream`]: memory does not grow with its length); each frame takes
//! the 16 mel frames Wav2Lip's original inference takes for it (`int(i * 80 / fps)`), and
//! silence after the speech ends.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use gpu::{FrameRenderer, GpuContext};
use wav2lip::gemm::Precision;
use wav2lip::gpu::GpuOptions;
use wav2lip::mel::{MIN_VALUE, MelStream};
use wav2lip::model::{FACE, FACE_LEN, MEL_LEN, OUT_LEN};
use wav2lip::mtcnn::MtcnnWeights;
use wav2lip::native::CpuGenerator;
use wav2lip::resample::{Filter, Layout, Resample, Resampler, resample_rgba};
use wav2lip::{Backend, Detector, Generator, LipSync, Model, Picture};

use super::ahead::Ahead;
use super::faces::{self, Cuts, Fade, THUMB};
use super::{AvatarLayer, NoFace, Smoothing};
use crate::RenderError;
use crate::layers::picture::is_still;

fn asset(path: &Path, message: impl std::fmt::Display) -> RenderError {
    RenderError::Asset {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// Frames of a still face generated per run when the job does not say: on the CPU 16 runs as
/// fast as 32 with ~170 MB less memory at 720p (docs/BENCHMARKS.md); on a GPU larger batches
/// fill the GEMM tiles.
fn default_batch(backend: Backend) -> u64 {
    match backend {
        Backend::Cpu => 16,
        Backend::Gpu => 64,
    }
}

/// The generator with what its backend feeds it from, sized for one batch.
#[derive(Debug)]
enum LipSyncRun {
    /// GPU backend: the crop kernel, the generator's input buffers and the batch's generated
    /// faces, all on the device.
    Gpu {
        lipsync: LipSync,
        resampler: Resampler,
        faces: wgpu::Buffer,
        mels: wgpu::Buffer,
        out: wgpu::Buffer,
    },
    /// CPU backend: the batch's inputs and outputs on the host, reused.
    Cpu {
        generator: CpuGenerator,
        faces: Vec<f32>,
        mels: Vec<f32>,
        out: Vec<f32>,
    },
}

/// The frames the last generator run covered.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Generated {
    /// Absolute index of the batch's first frame, and how many it holds.
    first: u64,
    len: u64,
    crop: [f32; 4],
}

/// The networks and their buffers, on the backend chosen for this layer.
#[derive(Debug)]
struct AvatarNets {
    run: LipSyncRun,
    detector: Option<Detector>,
    device: wgpu::Device,
    queue: wgpu::Queue,
}

/// One avatar layer's lip-sync state.
#[derive(Debug)]
pub(crate) struct Avatar {
    layer: AvatarLayer,
    /// The generator's weights until they are uploaded.
    model: Option<Model>,
    weights: Option<MtcnnWeights>,
    mel: MelStream,
    speech: PathBuf,
    still: bool,
    nets: Option<AvatarNets>,
    /// The current picture's RGBA bytes and size (kept for the CPU backend only).
    pixels: Vec<u8>,
    pixels_size: (u32, u32),
    /// Last boxes found (pixels of the picture), for smoothing.
    history: VecDeque<[f32; 4]>,
    /// The crop used for the current frame (pixels of the picture, pads applied).
    crop: Option<[f32; 4]>,
    /// Drawn frames processed.
    frames: u64,
    /// Frames per generator run (1 for a video face), and what the last run covered.
    batch: u64,
    generated: Option<Generated>,
    silence: Vec<f32>,
    warned: bool,
    /// Shot changes in a face video (with `cuts`), and on the GPU backend the resampler and
    /// buffer its thumbnails are made with.
    cuts: Cuts,
    thumbs: Option<(Resampler, wgpu::Buffer)>,
    /// The box of the face followed (`face_select = "track"`).
    followed: Option<[f32; 4]>,
    /// The lip-sync weight after a face (re)appears (`on_no_face = "pass"`), and this frame's.
    fade: Fade,
    weight: f32,
    /// The current frame starts a new shot (for the debug log).
    cut: bool,
    /// Centred smoothing's look-ahead decoder, and its frames' texture for the GPU detector.
    ahead: Option<Ahead>,
    scratch: Option<wgpu::Texture>,
    /// The last box shown (for on_no_face = "hold").
    held: Option<[f32; 4]>,
}

impl Avatar {
    /// Loads what can be loaded without a GPU: the checkpoint, the detector's weights (unless
    /// the layer gives a fixed box) and the speech's mel spectrogram. Every missing or bad file
    /// is reported here, before any frame is drawn.
    pub(crate) fn load(layer: &AvatarLayer, job_audio: &Path) -> Result<Self, RenderError> {
        let ckpt = wav2lip::checkpoint::Checkpoint::load(&layer.checkpoint).map_err(|e| {
            asset(
                &layer.checkpoint,
                format!("cannot use it as a Wav2Lip checkpoint: {e}"),
            )
        })?;
        let model = Model::from_checkpoint(&ckpt).map_err(|e| {
            asset(
                &layer.checkpoint,
                format!("not a Wav2Lip generator checkpoint: {e}"),
            )
        })?;
        drop(ckpt);
        let weights = match layer.face_box {
            Some(_) => None,
            None => {
                let dir = layer
                    .detector
                    .clone()
                    .unwrap_or_else(wav2lip::fetch::default_weights_dir);
                Some(MtcnnWeights::load(&dir).map_err(|e| asset(&dir, e))?)
            }
        };
        let speech: PathBuf = layer.speech.clone().unwrap_or_else(|| job_audio.to_owned());
        let mel = MelStream::open(&speech)
            .map_err(|e| asset(&speech, format!("cannot use it as the speech track: {e}")))?;
        Ok(Self {
            layer: layer.clone(),
            model: Some(model),
            weights,
            mel,
            speech,
            still: is_still(&layer.face),
            nets: None,
            pixels: Vec::new(),
            pixels_size: (0, 0),
            history: VecDeque::new(),
            crop: None,
            frames: 0,
            // Set with the backend in `prepare`.
            batch: 1,
            generated: None,
            silence: vec![MIN_VALUE; MEL_LEN],
            warned: false,
            cuts: Cuts::default(),
            thumbs: None,
            followed: None,
            fade: Fade::default(),
            weight: 0.0,
            cut: false,
            ahead: None,
            scratch: None,
            held: None,
        })
    }

    /// Prepares the generator and the detector on the backend the layer asks for (`auto`: the
    /// CPU when `ctx`'s adapter is a software rasteriser, the GPU otherwise), and logs it.
    pub(crate) fn prepare(&mut self, ctx: &GpuContext) -> Result<(), RenderError> {
        if self.nets.is_some() {
            return Ok(());
        }
        let model = self.model.take().ok_or(RenderError::AvatarNotReady {
            missing: "the generator's weights (already uploaded)",
        })?;
        let (backend, why) = self.layer.backend.resolve(ctx.adapter.software);
        log::info!(
            "avatar {}: lip sync on the {backend} backend ({why}; adapter {})",
            self.layer.face.display(),
            ctx.adapter
        );
        let gpu = Some((&ctx.device, &ctx.queue));
        self.batch = if self.still {
            self.layer
                .batch
                .map_or(default_batch(backend), |b| u64::from(b.0))
        } else {
            1
        };
        let batch = self.batch as usize;
        let buffer = |label: &str, floats: usize| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (floats * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_DST
                    | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let precision = self.layer.precision;
        let generator = match (backend, precision) {
            (Backend::Gpu, _) => Generator::Gpu(
                LipSync::with_options(
                    &ctx.device,
                    &ctx.queue,
                    &model,
                    GpuOptions {
                        precision,
                        ..Default::default()
                    },
                )
                .map_err(|e| match precision {
                    // Asked for by the job and not offered by this machine: a job error, like
                    // encoder = "nvenc" where NVENC cannot run.
                    Precision::F16 => RenderError::Avatar(format!(
                        "{}: precision = \"f16\": {e}",
                        self.layer.face.display()
                    )),
                    Precision::F32 => e.into(),
                })?,
            ),
            (Backend::Cpu, Precision::F16) => {
                log::warn!(
                    "avatar {}: precision = \"f16\" applies to the GPU backend; the CPU backend \
                     computes in f32",
                    self.layer.face.display()
                );
                Generator::new(backend, &model, gpu)?
            }
            (Backend::Cpu, Precision::F32) => Generator::new(backend, &model, gpu)?,
        };
        let run = match generator {
            Generator::Gpu(mut lipsync) => {
                lipsync.set_max_batch(batch);
                // The picture stays on the GPU: its host copy is not needed.
                self.pixels = Vec::new();
                LipSyncRun::Gpu {
                    lipsync,
                    resampler: Resampler::new(&ctx.device)?,
                    faces: buffer("avatar.faces", batch * FACE_LEN),
                    mels: buffer("avatar.mels", batch * MEL_LEN),
                    out: buffer("avatar.generated", batch * OUT_LEN),
                }
            }
            Generator::Cpu(generator) => LipSyncRun::Cpu {
                generator,
                faces: vec![0.0; batch * FACE_LEN],
                mels: vec![0.0; batch * MEL_LEN],
                out: vec![0.0; batch * OUT_LEN],
            },
        };
        drop(model);
        let detector = match self.weights.take() {
            Some(w) => {
                let mut d = Detector::new(backend, &w, gpu)?;
                d.set_min_face(self.layer.min_face.0);
                Some(d)
            }
            None => None,
        };
        // Centred smoothing checks cuts on its look-ahead frames' bytes; the causal check reads
        // the picture's texture, through a thumbnail resampled on the device.
        if backend == Backend::Gpu && self.watches_cuts() && !self.centred() {
            self.thumbs = Some((
                Resampler::new(&ctx.device)?,
                ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("avatar.cut_thumbnail"),
                    size: (THUMB_LEN * 4) as u64,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
            ));
        }
        self.nets = Some(AvatarNets {
            run,
            detector,
            device: ctx.device.clone(),
            queue: ctx.queue.clone(),
        });
        Ok(())
    }

    /// The backend the networks run on (None before [`Self::prepare`]).
    pub(crate) fn backend(&self) -> Option<Backend> {
        self.nets.as_ref().map(|n| match n.run {
            LipSyncRun::Gpu { .. } => Backend::Gpu,
            LipSyncRun::Cpu { .. } => Backend::Cpu,
        })
    }

    /// True when the layer needs the picture's bytes on the host (the CPU backend, or not yet
    /// decided).
    pub(crate) fn wants_pixels(&self) -> bool {
        self.backend() != Some(Backend::Gpu)
    }

    /// The picture's RGBA8 bytes when it is a still (copied once).
    pub(crate) fn set_pixels(&mut self, pixels: &[u8], width: u32, height: u32) {
        self.pixels.clear();
        self.pixels.extend_from_slice(pixels);
        self.pixels_size = (width, height);
    }

    /// A new video frame's RGBA8 bytes, swapped in without a copy: `frame` gets the previous
    /// frame's buffer back (the decoder refills or recycles it).
    pub(crate) fn swap_frame(&mut self, frame: &mut Vec<u8>, width: u32, height: u32) {
        std::mem::swap(&mut self.pixels, frame);
        self.pixels_size = (width, height);
    }

    /// The face box of the current frame in texture coordinates (x0, y0, x1, y1), if any.
    pub(crate) fn face_uv(&self, picture: (u32, u32)) -> Option<[f32; 4]> {
        let (w, h) = (picture.0.max(1) as f32, picture.1.max(1) as f32);
        self.crop.map(|c| [c[0] / w, c[1] / h, c[2] / w, c[3] / h])
    }

    /// How much of the generated face the current frame blends in (0 without a face; rising
    /// over `fade_in` frames after a face appears with `on_no_face = "pass"`).
    pub(crate) fn weight(&self) -> f32 {
        if self.crop.is_some() {
            self.weight
        } else {
            0.0
        }
    }

    /// Shot changes are looked for: a face video, detected faces, `cuts` on.
    fn watches_cuts(&self) -> bool {
        !self.still && self.layer.face_box.is_none() && self.layer.cuts
    }

    /// A face video's box is smoothed over boxes detected ahead ([`Ahead`]).
    fn centred(&self) -> bool {
        !self.still && self.layer.smoothing == Smoothing::Centered
    }

    /// The current picture's cut-measure thumbnail ([`THUMB`], R, G, B planes, 0..1); on the
    /// CPU backend from its bytes ([`thumbnail_of`]).
    fn thumbnail(&self, picture: &wgpu::Texture) -> Result<Vec<f32>, RenderError> {
        let (Some((resampler, buffer)), Some(g)) = (&self.thumbs, &self.nets) else {
            return thumbnail_of(&self.pixels, self.pixels_size);
        };
        let crop = [[0.0, 0.0, picture.width() as f32, picture.height() as f32]];
        let mut encoder = g
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("avatar.cut_thumbnail"),
            });
        resampler.encode(&g.device, &mut encoder, picture, &thumb_job(&crop), buffer)?;
        let bytes = gpu::read_buffers(
            &g.device,
            &g.queue,
            encoder,
            &[(buffer, buffer.size())],
            std::time::Duration::from_secs(60),
            "the avatar's cut thumbnail",
        )?;
        Ok(bytemuck::cast_slice(&bytes[0]).to_vec())
    }

    /// Finds the face box for this frame (detection, smoothing, fixed box, hold).
    fn face_box(
        &mut self,
        picture: &wgpu::Texture,
        frame: u64,
        time: f64,
        fps: f64,
    ) -> Result<Option<[f32; 4]>, RenderError> {
        if let Some(b) = self.layer.face_box {
            return Ok(Some(b.0));
        }
        if self.centred() {
            return self.face_box_ahead(picture, frame, time, fps);
        }
        // A new shot: the boxes found so far belong to another picture.
        let cut = self.watches_cuts() && {
            let thumb = self.thumbnail(picture)?;
            self.cuts.is_cut(&thumb)
        };
        self.cut = cut;
        if cut {
            self.history.clear();
            self.followed = None;
        }
        // On the absolute frame grid, so a segment detects on the same frames as a whole render.
        let due = if self.still {
            self.frames == 0
        } else {
            frame.is_multiple_of(u64::from(self.layer.detect_every.0))
                || self.history.is_empty()
                || cut
        };
        if due {
            let size = (picture.width(), picture.height());
            let found = if matches!(self.detector()?, Detector::Gpu(_)) {
                self.detect_one(Picture::Texture(picture), size, frame, time)?
            } else {
                let pixels = std::mem::take(&mut self.pixels);
                let picture = Picture::Rgba {
                    pixels: &pixels,
                    width: self.pixels_size.0,
                    height: self.pixels_size.1,
                };
                let found = self.detect_one(picture, size, frame, time);
                self.pixels = pixels;
                found?
            };
            match found {
                Some(rect) => {
                    self.history.push_back(rect);
                    while self.history.len() > self.layer.smooth.0 as usize {
                        self.history.pop_front();
                    }
                }
                // The picture as it is until a face returns (the followed one, when tracking).
                None if self.layer.on_no_face == NoFace::Pass => self.history.clear(),
                None => {}
            }
        }
        if self.history.is_empty() {
            return Ok(None);
        }
        let n = self.history.len() as f32;
        let mut mean = [0.0f32; 4];
        for b in &self.history {
            for k in 0..4 {
                mean[k] += b[k] / n;
            }
        }
        Ok(Some(mean))
    }

    fn detector(&self) -> Result<&Detector, RenderError> {
        self.nets
            .as_ref()
            .and_then(|g| g.detector.as_ref())
            .ok_or(RenderError::AvatarNotReady {
                missing: "the face detector",
            })
    }

    /// Runs the detector on `picture` (`size` pixels; frame `frame` at `time`) and chooses the
    /// face to follow (`face_select`). None where none is chosen, after on_no_face: "error"
    /// returns the error naming the frame, "hold" warns once.
    fn detect_one(
        &mut self,
        picture: Picture<'_>,
        size: (u32, u32),
        frame: u64,
        time: f64,
    ) -> Result<Option<[f32; 4]>, RenderError> {
        let faces = self.detector()?.detect(picture)?;
        if let Some(face) = faces::choose(&faces, self.layer.face_select, size, self.followed) {
            self.followed = Some(face.rect);
            return Ok(Some(face.rect));
        }
        match self.layer.on_no_face {
            NoFace::Pass => {}
            NoFace::Hold => {
                if self.held.is_none() && !self.warned {
                    log::warn!(
                        "avatar {}: no face in frame {frame} (t = {time:.2} s); the picture is \
                         shown without lip sync until a face is found",
                        self.layer.face.display()
                    );
                    self.warned = true;
                }
            }
            NoFace::Error => {
                let what = if faces.is_empty() {
                    "no face found".to_owned()
                } else {
                    format!(
                        "the face followed (face_select = \"track\") is not among the {} found",
                        faces.len()
                    )
                };
                return Err(RenderError::Avatar(format!(
                    "{what} in frame {frame} (t = {time:.2} s) of {}: set on_no_face = \"pass\" \
                     to show the picture unchanged until it returns, or \"hold\" to keep the \
                     last box, lower min_face (now {} px), or give box = [x0, y0, x1, y1] in \
                     pixels of the picture",
                    self.layer.face.display(),
                    self.layer.min_face.0
                )));
            }
        }
        Ok(None)
    }

    /// The box for `frame` with centred smoothing: frames are decoded and examined up to the
    /// window's far end (cuts, detection on the grid), and the box is the mean of those found
    /// around `frame` in its shot.
    fn face_box_ahead(
        &mut self,
        picture: &wgpu::Texture,
        frame: u64,
        time: f64,
        fps: f64,
    ) -> Result<Option<[f32; 4]>, RenderError> {
        let every = u64::from(self.layer.detect_every.0);
        let n = u64::from(self.layer.smooth.0.max(1));
        let (before, after) = ((n - 1) / 2 * every, (n - 1 - (n - 1) / 2) * every);
        let mut ahead = match self.ahead.take() {
            Some(a) => a,
            None => Ahead::spawn(
                &self.layer.face,
                (picture.width(), picture.height()),
                fps,
                time,
                frame,
            )
            .map_err(|e| asset(&self.layer.face, e))?,
        };
        let examined = self.examine_ahead(&mut ahead, frame + after, fps, picture);
        ahead.forget_before(frame.saturating_sub(before.max(every)));
        let result = examined.map(|()| {
            self.cut = ahead.get(frame).is_some_and(|s| s.cut);
            match ahead.own_detection(frame) {
                Some(own) if own.face.is_some() => ahead.mean(frame, before, after),
                Some(_) if self.layer.on_no_face == NoFace::Hold => {
                    ahead.mean(frame, before, after).or(self.held)
                }
                _ => None,
            }
        });
        self.ahead = Some(ahead);
        result
    }

    /// Decodes and examines look-ahead frames up to `last`.
    fn examine_ahead(
        &mut self,
        ahead: &mut Ahead,
        last: u64,
        fps: f64,
        like: &wgpu::Texture,
    ) -> Result<(), RenderError> {
        let every = u64::from(self.layer.detect_every.0);
        while ahead.next() <= last {
            if !ahead.decode()? {
                break;
            }
            let (bytes, size, f) = ahead.current();
            let cut = self.watches_cuts() && {
                let thumb = thumbnail_of(bytes, size)?;
                self.cuts.is_cut(&thumb)
            };
            if cut {
                self.followed = None;
            }
            let shot = ahead.shot_of(cut);
            let due = f.is_multiple_of(every) || cut || !ahead.detected_in(shot);
            let detection = if due {
                let time = f as f64 / fps;
                let found = if matches!(self.detector()?, Detector::Gpu(_)) {
                    let texture = self.scratch_like(like, bytes, size);
                    self.detect_one(Picture::Texture(&texture), size, f, time)?
                } else {
                    let picture = Picture::Rgba {
                        pixels: bytes,
                        width: size.0,
                        height: size.1,
                    };
                    self.detect_one(picture, size, f, time)?
                };
                Some(found)
            } else {
                None
            };
            ahead.push(cut, detection);
        }
        Ok(())
    }

    /// A texture like the picture's holding `bytes` (for the GPU detector on look-ahead frames),
    /// reused from frame to frame.
    fn scratch_like(
        &mut self,
        like: &wgpu::Texture,
        bytes: &[u8],
        size: (u32, u32),
    ) -> wgpu::Texture {
        let g = self
            .nets
            .as_ref()
            .expect("networks prepared before detection");
        let texture = match &self.scratch {
            Some(t) if (t.width(), t.height()) == size => t.clone(),
            _ => {
                let t = g.device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("avatar.lookahead_frame"),
                    size: wgpu::Extent3d {
                        width: size.0,
                        height: size.1,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: like.format(),
                    usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[],
                });
                self.scratch = Some(t.clone());
                t
            }
        };
        g.queue.write_texture(
            texture.as_image_copy(),
            bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(size.0 * 4),
                rows_per_image: Some(size.1),
            },
            wgpu::Extent3d {
                width: size.0,
                height: size.1,
                depth_or_array_layers: 1,
            },
        );
        texture
    }

    /// Runs detection (when due) and the generator for one drawn frame: the generated face
    /// lands in the layer's storage buffer before the frame's layer pass is submitted.
    /// On warm-up frames (`drawn` false) only the face is tracked.
    pub(crate) fn process(
        &mut self,
        renderer: &FrameRenderer,
        index: usize,
        time: f64,
        fps: f64,
        drawn: bool,
    ) -> Result<(), RenderError> {
        let picture = renderer
            .layer_texture(index)
            .ok_or(RenderError::AvatarNotReady {
                missing: "the face texture",
            })?
            .clone();
        let out = renderer
            .layer_storage(index)
            .ok_or(RenderError::AvatarNotReady {
                missing: "the generated-face buffer",
            })?
            .clone();
        let frame = (time * fps).round().max(0.0) as u64;
        if self.wants_pixels() && self.pixels.is_empty() {
            // No video frame yet: the texture is opaque black, and so are these bytes.
            let (w, h) = (picture.width(), picture.height());
            self.pixels = [0, 0, 0, 255].repeat((w * h) as usize);
            self.pixels_size = (w, h);
        }
        let found = self.face_box(&picture, frame, time, fps)?;
        if found.is_some() {
            self.held = found;
        }
        self.frames += 1;
        self.weight = match (&self.layer.turns.0, self.layer.on_no_face) {
            (Some(turns), _) => {
                let speaking = turns.speaking(time);
                self.fade
                    .step(found.is_some(), speaking, self.layer.fade_in.0)
            }
            (None, NoFace::Pass) => self.fade.step(found.is_some(), true, self.layer.fade_in.0),
            _ => 1.0,
        };
        if drawn && log::log_enabled!(log::Level::Debug) {
            let shown = found.map_or("none".to_owned(), |b| {
                format!("{:.1},{:.1},{:.1},{:.1}", b[0], b[1], b[2], b[3])
            });
            log::debug!(
                "avatar face: layer={index} frame={frame} box={shown} weight={:.3} cut={}",
                self.weight,
                u8::from(self.cut)
            );
        }
        if !drawn {
            return Ok(());
        }
        let Some(b) = found else {
            self.crop = None;
            return Ok(());
        };
        let (w, h) = (picture.width() as f32, picture.height() as f32);
        let [top, bottom, left, right] = self.layer.pads.0.map(|p| p as f32);
        let crop = [
            (b[0] - left).max(0.0).round(),
            (b[1] - top).max(0.0).round(),
            (b[2] + right).min(w).round(),
            (b[3] + bottom).min(h).round(),
        ];
        if crop[2] - crop[0] < 2.0 || crop[3] - crop[1] < 2.0 {
            self.crop = None;
            return Ok(());
        }
        self.crop = Some(crop);
        if self.weight <= 0.0 {
            // Not blended (its speaker is silent, or the fade has not begun): nothing to
            // generate.
            return Ok(());
        }
        // The batch holding this frame, on the absolute grid; generated unless the last run
        // covered it with the same crop.
        let first = frame - frame % self.batch;
        let want = Generated {
            first,
            len: self.batch,
            crop,
        };
        if self.generated != Some(want) {
            self.generate(&picture, want, fps)?;
            self.generated = Some(want);
        }
        let slot = (frame - first) as usize;
        let g = self.nets.as_ref().ok_or(RenderError::AvatarNotReady {
            missing: "the networks",
        })?;
        let bytes = (OUT_LEN * 4) as u64;
        match &g.run {
            LipSyncRun::Gpu { out: generated, .. } => {
                let mut encoder =
                    g.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("avatar.slice"),
                        });
                encoder.copy_buffer_to_buffer(generated, slot as u64 * bytes, &out, 0, bytes);
                g.queue.submit([encoder.finish()]);
            }
            LipSyncRun::Cpu { out: host_out, .. } => {
                // Ordered before the frame's layer pass by the queue.
                let face = &host_out[slot * OUT_LEN..(slot + 1) * OUT_LEN];
                g.queue.write_buffer(&out, 0, bytemuck::cast_slice(face));
            }
        }
        Ok(())
    }

    /// Runs the generator on the frames of `batch` (the speech windows of each, the same crop
    /// of the current picture for all), leaving the faces in the run's output buffer.
    fn generate(
        &mut self,
        picture: &wgpu::Texture,
        batch: Generated,
        fps: f64,
    ) -> Result<(), RenderError> {
        let g = self.nets.as_mut().ok_or(RenderError::AvatarNotReady {
            missing: "the networks",
        })?;
        let n = batch.len as usize;
        let crops = vec![batch.crop; n];
        let job = Resample {
            crops: &crops,
            out: (FACE as u32, FACE as u32),
            filter: Filter::Bilinear,
            layout: Layout::Wav2Lip,
            scale: 1.0 / 255.0,
            offset: 0.0,
        };
        // The speech windows of the batch's frames; silence once the speech has ended.
        let mut windows = |dst: &mut dyn FnMut(usize, &[f32])| -> Result<(), RenderError> {
            for i in 0..n {
                let w = self
                    .mel
                    .window((batch.first + i as u64) as usize, fps)
                    .map_err(|e| asset(&self.speech, e))?
                    .unwrap_or(&self.silence);
                dst(i, w);
            }
            Ok(())
        };
        match &mut g.run {
            LipSyncRun::Gpu {
                lipsync,
                resampler,
                faces,
                mels,
                out,
            } => {
                let mut host = vec![0.0f32; n * MEL_LEN];
                windows(&mut |i, w| host[i * MEL_LEN..(i + 1) * MEL_LEN].copy_from_slice(w))?;
                g.queue.write_buffer(mels, 0, bytemuck::cast_slice(&host));
                let mut encoder =
                    g.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("avatar.crop"),
                        });
                resampler.encode(&g.device, &mut encoder, picture, &job, faces)?;
                g.queue.submit([encoder.finish()]);
                lipsync.infer(faces, mels, out, n)?;
            }
            LipSyncRun::Cpu {
                generator,
                faces,
                mels,
                out,
            } => {
                windows(&mut |i, w| mels[i * MEL_LEN..(i + 1) * MEL_LEN].copy_from_slice(w))?;
                // The crops from the bytes the CPU has.
                resample_rgba(&self.pixels, self.pixels_size, &job, faces)?;
                generator.infer(faces, mels, n, out)?;
            }
        }
        Ok(())
    }
}

/// Floats in a cut-measure thumbnail.
const THUMB_LEN: usize = (THUMB.0 * THUMB.1 * 3) as usize;

/// The resampling that makes a cut-measure thumbnail ([`THUMB`], R, G, B planes, 0..1) of the
/// whole picture `crop`.
fn thumb_job(crop: &[[f32; 4]; 1]) -> Resample<'_> {
    Resample {
        crops: crop,
        out: THUMB,
        filter: Filter::Area,
        layout: Layout::Rgb,
        scale: 1.0 / 255.0,
        offset: 0.0,
    }
}

/// The cut-measure thumbnail of RGBA bytes.
fn thumbnail_of(pixels: &[u8], size: (u32, u32)) -> Result<Vec<f32>, RenderError> {
    let crop = [[0.0, 0.0, size.0 as f32, size.1 as f32]];
    let mut out = vec![0.0f32; THUMB_LEN];
    resample_rgba(pixels, size, &thumb_job(&crop), &mut out)?;
    Ok(out)
}
