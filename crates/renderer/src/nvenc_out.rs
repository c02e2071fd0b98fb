//! The NVENC output path: frames go render -> NV12 pass -> GPU copy into a slot of a ring of
//! exportable Vulkan buffers -> (wait for that submission) -> the same memory imported into
//! CUDA and registered with NVENC -> Annex-B bytes for the ffmpeg muxer. No frame is copied
//! through system memory.

use gpu::{ExternalRing, FrameRenderer, FrameUniforms, GpuContext, Nv12Layout};

use crate::RenderError;
use crate::job::{CodecChoice, RateControlChoice, VideoSettings};

/// Ring slots: the GPU draws frame n+1 while NVENC encodes frame n.
const SLOTS: usize = 3;

pub(crate) fn codec(c: CodecChoice) -> nvenc::Codec {
    match c {
        CodecChoice::H264 => nvenc::Codec::H264,
        CodecChoice::Hevc => nvenc::Codec::Hevc,
    }
}

/// Ok when NVENC can encode `codec` from this device's memory; otherwise why not, in words.
///
/// Needs: a Vulkan device that can export memory (VK_KHR_external_memory_fd), a CUDA device
/// with the same UUID (the same physical GPU), and an NVENC session that opens there and
/// offers the codec.
pub(crate) fn availability(ctx: &GpuContext, codec: nvenc::Codec) -> Result<(), String> {
    let info = gpu::external_memory_info(ctx);
    if let Some(why) = info.why_not {
        return Err(format!("adapter {}: {why}", ctx.adapter));
    }
    let Some(uuid) = info.device_uuid else {
        return Err(format!("adapter {} reports no device UUID", ctx.adapter));
    };
    nvenc::probe(Some(uuid)).check(codec)
}

/// A frame rate as a fraction for the bitstream's timing: whole rates as n/1, the NTSC family
/// (29.97, 23.976, 59.94) as n/1001, other decimals exactly (12.5 -> 25/2) where a small
/// denominator gives them, else to a thousandth.
fn rational_fps(fps: f64) -> (u32, u32) {
    for den in [1u32, 2, 4, 5, 8, 10, 1001, 100, 1000] {
        let num = (fps * f64::from(den)).round();
        // NTSC rates are written rounded (29.97 for 30000/1001, 119.88 for 120000/1001):
        // accept those within 2e-4 frames/s; the others must be exact.
        let tolerance = if den == 1001 { 2e-4 } else { 1e-9 };
        if num >= 1.0 && (fps - num / f64::from(den)).abs() <= tolerance {
            return (num as u32, den);
        }
    }
    (((fps * 1000.0).round() as u32).max(1), 1000)
}

/// The encoder settings of a job's `[video]` table.
pub(crate) fn settings(video: &VideoSettings) -> nvenc::EncodeSettings {
    let (fps_num, fps_den) = rational_fps(video.fps.0);
    let q = video.quality.0;
    let kbps = video.bitrate.map_or(0, |b| b.0);
    let rate = match video.rate_control {
        // NVENC's quality target 0 means "automatic": the best level is 1.
        RateControlChoice::Quality => nvenc::RateControl::Quality(q.max(1)),
        RateControlChoice::ConstQp => nvenc::RateControl::ConstQp(q),
        RateControlChoice::Cbr => nvenc::RateControl::Cbr {
            bitrate: kbps.saturating_mul(1000),
        },
        RateControlChoice::Vbr => nvenc::RateControl::Vbr {
            bitrate: kbps.saturating_mul(1000),
            max_bitrate: kbps.saturating_mul(2000),
        },
    };
    nvenc::EncodeSettings {
        codec: codec(video.codec),
        width: video.width.0,
        height: video.height.0,
        fps_num,
        fps_den,
        preset: video.nvenc_preset.0,
        rate,
        idr_interval: video.keyint_frames(),
    }
}

/// NVENC fed from a ring of exportable buffers.
pub(crate) struct NvencOutput {
    // Field order is drop order: the session first, then CUDA's mappings, then the memory.
    session: nvenc::Session,
    _imports: Vec<nvenc::ExternalBuffer>,
    ring: ExternalRing,
    /// The slot whose frame is on the GPU and not yet encoded.
    pending: Option<(usize, wgpu::SubmissionIndex)>,
    next: usize,
}

impl std::fmt::Debug for NvencOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvencOutput")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

use gpu::wgpu;

impl NvencOutput {
    /// Allocates the ring, imports each slot into CUDA on the GPU with the device's UUID, and
    /// opens an NVENC session with every slot registered as an input.
    pub(crate) fn new(
        ctx: &GpuContext,
        layout: Nv12Layout,
        settings: nvenc::EncodeSettings,
    ) -> Result<Self, RenderError> {
        let uuid = gpu::external_memory_info(ctx).device_uuid;
        let (_cuda, cuda_ctx, api) = nvenc::open(uuid)?;
        let ring = ExternalRing::new(ctx, layout, SLOTS)?;
        let mut imports = Vec::with_capacity(ring.len());
        for i in 0..ring.len() {
            let slot = ring.slot(i);
            let fd = slot.export_fd()?;
            imports.push(cuda_ctx.import_fd(fd, slot.allocation_size(), 0, layout.size)?);
        }
        let mut session = nvenc::Session::open(api, cuda_ctx, settings)?;
        for import in &imports {
            session.register_input(import.device_ptr(), layout.pitch)?;
        }
        Ok(Self {
            session,
            _imports: imports,
            ring,
            pending: None,
            next: 0,
        })
    }

    /// Draws a frame into the next slot; encodes the previous one meanwhile and hands its
    /// bytes to `emit`.
    pub(crate) fn submit(
        &mut self,
        renderer: &mut FrameRenderer,
        uniforms: &FrameUniforms,
        emit: &mut dyn FnMut(Vec<u8>) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        let slot = self.next;
        self.next = (self.next + 1) % self.ring.len();
        let submission = renderer.submit_into(uniforms, self.ring.slot(slot).buffer())?;
        if let Some(previous) = self.pending.replace((slot, submission)) {
            self.encode(renderer, previous, emit)?;
        }
        Ok(())
    }

    fn encode(
        &mut self,
        renderer: &FrameRenderer,
        (slot, submission): (usize, wgpu::SubmissionIndex),
        emit: &mut dyn FnMut(Vec<u8>) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        // CUDA must not read the slot before the GPU has written it.
        renderer.wait(submission)?;
        let mut bytes = Vec::new();
        self.session.encode(slot, &mut bytes)?;
        emit(bytes)
    }

    /// Encodes the last frame and ends the stream.
    pub(crate) fn finish(
        &mut self,
        renderer: &FrameRenderer,
        emit: &mut dyn FnMut(Vec<u8>) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        if let Some(previous) = self.pending.take() {
            self.encode(renderer, previous, emit)?;
        }
        self.session.finish()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Bitrate, Crf, Fps, Keyint};

    #[test]
    fn job_settings_map_to_nvenc_settings() {
        let mut v = VideoSettings {
            fps: Fps(29.97),
            quality: Crf(0),
            ..VideoSettings::default()
        };
        let s = settings(&v);
        assert_eq!((s.fps_num, s.fps_den), (30000, 1001));
        assert_eq!(
            s.rate,
            nvenc::RateControl::Quality(1),
            "0 would mean automatic"
        );
        assert_eq!(s.idr_interval, 60, "two seconds of frames at 29.97");
        assert_eq!(s.preset, 4);
        assert!(s.validate().is_ok());

        v.fps = Fps(25.0);
        v.rate_control = RateControlChoice::Vbr;
        v.bitrate = Some(Bitrate(6000));
        v.keyint = Some(Keyint(12));
        v.codec = CodecChoice::Hevc;
        let s = settings(&v);
        assert_eq!((s.fps_num, s.fps_den), (25, 1));
        assert_eq!(
            s.rate,
            nvenc::RateControl::Vbr {
                bitrate: 6_000_000,
                max_bitrate: 12_000_000
            }
        );
        assert_eq!((s.idr_interval, s.codec), (12, nvenc::Codec::Hevc));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn frame_rates_become_exact_fractions() {
        assert_eq!(rational_fps(30.0), (30, 1));
        assert_eq!(rational_fps(29.97), (30000, 1001));
        assert_eq!(rational_fps(30000.0 / 1001.0), (30000, 1001));
        assert_eq!(rational_fps(23.976), (24000, 1001));
        assert_eq!(rational_fps(59.94), (60000, 1001));
        assert_eq!(rational_fps(12.5), (25, 2));
        assert_eq!(rational_fps(7.3), (73, 10));
        assert_eq!(rational_fps(119.88), (120000, 1001));
        assert_eq!(rational_fps(1.0 / 3.0 + 10.0), (10333, 1000));
    }
}
