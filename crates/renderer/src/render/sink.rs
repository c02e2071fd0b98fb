//! The encoder a render gets on this machine (x264, NVENC or none) and how its drawn frames
//! leave the GPU: read back and packed for x264, or encoded by NVENC where they lie.

use gpu::{FrameLayout, FrameOutput, FrameRenderer, FrameUniforms, GpuContext};
use media::{FfmpegInfo, RawFrames, VideoCodec};

use super::writer::{Delivery, ToWriter};
use crate::RenderError;
use crate::job::{BackgroundChoice, CodecChoice, EncoderChoice, FormatChoice, VideoSettings};
use crate::nvenc_out::{self, NvencOutput};

/// The encoder a render writes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoder {
    /// Frames are drawn and read back; nothing is encoded or written.
    Null,
    /// NV12 frames into ffmpeg's libx264.
    X264,
    /// NVENC on the rendering GPU (zero-copy); ffmpeg muxes its stream.
    Nvenc(nvenc::Codec),
    /// NV12 or RGBA frames into another ffmpeg encoder, for the WebM, MOV, GIF and APNG
    /// formats.
    Ffmpeg(VideoCodec),
}

/// What the frames of a render are read back as, and whether they keep alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Frames {
    /// What the encoder is given.
    pub(super) raw: RawFrames,
    /// The background is transparent (frames start transparent; RGBA frames keep alpha).
    pub(super) transparent: bool,
    /// NV12 frames are converted on the CPU from RGBA read back (software adapters), not by
    /// the GPU's conversion pass.
    pub(super) cpu_nv12: bool,
}

/// Whether NV12 is made on the CPU: on a software adapter (lavapipe shades the conversion
/// pass's fragments slower than a fixed-point loop converts), unless `RENDERER_NV12` says
/// `gpu` (or `cpu` to force it on any adapter).
pub(super) fn nv12_on_cpu(software: bool) -> bool {
    match std::env::var("RENDERER_NV12").as_deref() {
        Ok("cpu") => true,
        Ok("gpu") => false,
        _ => software,
    }
}

impl Frames {
    /// For `encoder`: RGBA where the format keeps alpha (a transparent background) or full
    /// chroma (ProRes 4444, GIF and APNG, which ffmpeg would otherwise convert from 4:2:0),
    /// NV12 otherwise.
    pub(super) fn for_encoder(encoder: Encoder, video: &VideoSettings, software: bool) -> Self {
        let transparent = video.background == BackgroundChoice::Transparent;
        let raw = match encoder {
            Encoder::Ffmpeg(VideoCodec::ProRes | VideoCodec::Gif | VideoCodec::Apng) => {
                RawFrames::Rgba
            }
            Encoder::Ffmpeg(codec) if transparent && codec.has_alpha() => RawFrames::Rgba,
            _ => RawFrames::Nv12,
        };
        let cpu_nv12 = raw == RawFrames::Nv12
            && !matches!(encoder, Encoder::Nvenc(_))
            && nv12_on_cpu(software);
        Self {
            raw,
            transparent,
            cpu_nv12,
        }
    }

    /// The GPU's readback format.
    pub(super) fn output(self) -> FrameOutput {
        match self.raw {
            RawFrames::Nv12 if !self.cpu_nv12 => FrameOutput::Nv12,
            _ => FrameOutput::Rgba,
        }
    }

    /// The encoder writes an alpha channel.
    pub(super) fn alpha(self) -> bool {
        self.transparent && self.raw == RawFrames::Rgba
    }
}

impl Encoder {
    /// As the summary names it.
    pub(super) fn name(self) -> String {
        match self {
            Encoder::Null => "null".to_owned(),
            Encoder::X264 => "x264".to_owned(),
            Encoder::Nvenc(codec) => format!("nvenc {codec}"),
            Encoder::Ffmpeg(VideoCodec::Vp9) => "vp9".to_owned(),
            Encoder::Ffmpeg(VideoCodec::Av1(encoder)) => format!("av1 ({encoder})"),
            Encoder::Ffmpeg(VideoCodec::Gif) => "gif".to_owned(),
            Encoder::Ffmpeg(VideoCodec::Apng) => "apng".to_owned(),
            Encoder::Ffmpeg(VideoCodec::ProRes) => "prores 4444".to_owned(),
            Encoder::Ffmpeg(other) => format!("{other:?}").to_lowercase(),
        }
    }

    /// What ffmpeg is given; `None` for no ffmpeg at all.
    pub(super) fn ffmpeg_codec(self) -> Option<VideoCodec> {
        match self {
            Encoder::Null => None,
            Encoder::X264 => Some(VideoCodec::X264),
            Encoder::Nvenc(nvenc::Codec::H264) => Some(VideoCodec::H264Stream),
            Encoder::Nvenc(nvenc::Codec::Hevc) => Some(VideoCodec::HevcStream),
            Encoder::Ffmpeg(codec) => Some(codec),
        }
    }
}

/// The ffmpeg codec for `format` when it is not MP4, checked against what this ffmpeg can
/// encode (an error naming the missing encoder, before any GPU work).
fn format_codec(
    format: FormatChoice,
    ff: &FfmpegInfo,
    output: &std::path::Path,
) -> Result<Option<VideoCodec>, RenderError> {
    let lacks = |what: &str| {
        RenderError::EncoderUnavailable(format!(
            "{}: this format needs ffmpeg's {what} encoder, which this ffmpeg lacks (`ffmpeg \
             -encoders` lists what it has); write an .mp4, or use an ffmpeg built with it",
            output.display()
        ))
    };
    let (codec, needs): (VideoCodec, &[&str]) = match format {
        FormatChoice::Auto | FormatChoice::Mp4 => return Ok(None),
        FormatChoice::Webm => (VideoCodec::Vp9, &["libvpx-vp9", "libopus"]),
        FormatChoice::WebmAv1 => {
            let encoder = ["libsvtav1", "libaom-av1"]
                .into_iter()
                .find(|e| ff.has(e))
                .ok_or_else(|| lacks("AV1 (libsvtav1 or libaom-av1)"))?;
            (VideoCodec::Av1(encoder), &["libopus"])
        }
        FormatChoice::Gif => (VideoCodec::Gif, &["gif"]),
        FormatChoice::Apng => (VideoCodec::Apng, &["apng"]),
        FormatChoice::Mov => (VideoCodec::ProRes, &["prores_ks"]),
    };
    if let Some(missing) = needs.iter().find(|n| !ff.has(n)) {
        return Err(lacks(missing));
    }
    Ok(Some(codec))
}

/// ffmpeg writes every MP4 (x264 encodes in it; NVENC's stream is muxed by it): probed, with
/// libx264 checked where the job asks for x264, before any GPU work. `None` for encoder = null.
pub(super) fn probe_ffmpeg(
    video: &VideoSettings,
    output: &std::path::Path,
) -> Result<Option<FfmpegInfo>, RenderError> {
    if video.encoder == EncoderChoice::Null {
        return Ok(None);
    }
    let ffmpeg = media::probe_ffmpeg()?;
    let format = video.format.resolve(output);
    let codec = format_codec(format, &ffmpeg, output)?;
    if video.background == BackgroundChoice::Transparent
        && !codec.is_some_and(VideoCodec::has_alpha)
    {
        return Err(RenderError::EncoderUnavailable(format!(
            "{}: background = \"transparent\" needs an output format with an alpha channel; \
             {} has none. Write a .mov (ProRes 4444), a .webm (VP9), an animated .png or a .gif",
            output.display(),
            match format {
                FormatChoice::WebmAv1 => "AV1 in WebM",
                _ => "H.264/HEVC in MP4",
            }
        )));
    }
    if codec.is_some() {
        if video.encoder == EncoderChoice::Nvenc {
            return Err(RenderError::EncoderUnavailable(format!(
                "{}: encoder = \"nvenc\" writes MP4 only; use encoder = \"auto\" for this \
                 format",
                output.display()
            )));
        }
    } else if video.encoder == EncoderChoice::X264 {
        need_x264(&ffmpeg)?;
    }
    Ok(Some(ffmpeg))
}

fn need_x264(ff: &FfmpegInfo) -> Result<(), RenderError> {
    if ff.has_libx264 {
        return Ok(());
    }
    Err(media::MediaError::MissingEncoder {
        encoder: "libx264".into(),
    }
    .into())
}

/// The encoder for `video` on `ctx` (whether NVENC works needs the device): NVENC where the job
/// asks for it (an error where it cannot run) or where `auto` finds it working, else x264.
pub(super) fn choose_encoder(
    video: &VideoSettings,
    output: &std::path::Path,
    ffmpeg: Option<&FfmpegInfo>,
    ctx: &GpuContext,
) -> Result<Encoder, RenderError> {
    let codec = nvenc_out::codec(video.codec);
    if let (Some(ff), false) = (ffmpeg, video.encoder == EncoderChoice::Null)
        && let Some(c) = format_codec(video.format.resolve(output), ff, output)?
    {
        return Ok(Encoder::Ffmpeg(c));
    }
    match (video.encoder, ffmpeg) {
        (EncoderChoice::Null, _) => Ok(Encoder::Null),
        (EncoderChoice::Nvenc, _) => {
            nvenc_out::availability(ctx, codec).map_err(|why| {
                RenderError::EncoderUnavailable(format!(
                    "encoder = \"nvenc\" cannot run here: {why}. Use encoder = \"auto\" (falls \
                     back to x264) or \"x264\""
                ))
            })?;
            log::info!("encoder nvenc: {codec} on {} (zero-copy)", ctx.adapter);
            Ok(Encoder::Nvenc(codec))
        }
        (EncoderChoice::Auto, Some(ff)) => match nvenc_out::availability(ctx, codec) {
            Ok(()) => {
                log::info!("encoder auto: NVENC {codec} on {} (zero-copy)", ctx.adapter);
                Ok(Encoder::Nvenc(codec))
            }
            Err(why) if video.codec == CodecChoice::Hevc => {
                Err(RenderError::EncoderUnavailable(format!(
                    "codec = \"hevc\" needs NVENC, which cannot run here: {why}. Use codec = \
                     \"h264\" to encode with x264"
                )))
            }
            Err(why) => {
                need_x264(ff)?;
                log::info!(
                    "encoder auto: x264 through {}; NVENC not used: {why}",
                    ff.version.split(" Copyright").next().unwrap_or(&ff.version)
                );
                Ok(Encoder::X264)
            }
        },
        (EncoderChoice::X264 | EncoderChoice::Auto, _) => Ok(Encoder::X264),
    }
}

/// How drawn frames leave the GPU.
pub(super) enum Sink {
    /// Read back into system memory and packed (ffmpeg's encoders; null drops them); RGBA
    /// read back for an NV12 encoder is converted on the way (`Frames::cpu_nv12`).
    Readback(FrameLayout, RawFrames),
    /// Encoded by NVENC from a ring of exportable buffers.
    Nvenc(NvencOutput),
}

impl Sink {
    /// The sink for `encoder`. NVENC's ring, CUDA imports and session exist before ffmpeg
    /// starts, so a failure leaves no output behind; `auto` with H.264 then falls back to x264
    /// (the encoder returned is the one used).
    pub(super) fn open(
        encoder: Encoder,
        video: &VideoSettings,
        renderer: &FrameRenderer,
        ctx: &GpuContext,
        ffmpeg: Option<&FfmpegInfo>,
        raw: RawFrames,
    ) -> Result<(Encoder, Sink), RenderError> {
        let Encoder::Nvenc(_) = encoder else {
            return Ok((encoder, Sink::Readback(renderer.frame_layout(), raw)));
        };
        let layout = renderer.layout();
        match NvencOutput::new(ctx, layout, nvenc_out::settings(video)) {
            Ok(out) => Ok((encoder, Sink::Nvenc(out))),
            Err(e) if video.encoder == EncoderChoice::Auto && video.codec == CodecChoice::H264 => {
                if let Some(ff) = ffmpeg {
                    need_x264(ff)?;
                }
                log::warn!("encoder auto: setting up NVENC failed ({e}); using x264");
                Ok((Encoder::X264, Sink::Readback(renderer.frame_layout(), raw)))
            }
            Err(e) => Err(e),
        }
    }

    /// Draws a frame and hands the finished ones to `out`.
    pub(super) fn submit(
        &mut self,
        renderer: &mut FrameRenderer,
        uniforms: &FrameUniforms,
        out: &mut Delivery<'_, '_>,
    ) -> Result<(), RenderError> {
        match self {
            Sink::Readback(layout, raw) => {
                renderer.submit(uniforms, &mut readback(*layout, *raw, out))
            }
            Sink::Nvenc(nv) => nv.submit(renderer, uniforms, &mut |bytes| {
                out.send(ToWriter::Encoded(bytes))
            }),
        }
    }

    /// Hands the frames still in flight to `out`.
    pub(super) fn finish(
        &mut self,
        renderer: &mut FrameRenderer,
        out: &mut Delivery<'_, '_>,
    ) -> Result<(), RenderError> {
        match self {
            Sink::Readback(layout, raw) => renderer.finish(&mut readback(*layout, *raw, out)),
            Sink::Nvenc(nv) => nv.finish(renderer, &mut |bytes| out.send(ToWriter::Encoded(bytes))),
        }
    }
}

/// The ffmpeg (and null) sink: each read-back frame packed without row padding into a recycled
/// buffer and sent on.
fn readback<'o>(
    layout: FrameLayout,
    raw: RawFrames,
    out: &'o mut Delivery<'_, '_>,
) -> impl FnMut(u64, &[u8]) -> Result<(), RenderError> + 'o {
    move |_frame, padded| {
        let mut buf = out.recycled();
        match (layout, raw) {
            (FrameLayout::Rgba(l), RawFrames::Nv12) => gpu::rgba_to_nv12(
                padded,
                l.pitch as usize,
                l.width as usize,
                l.height as usize,
                &mut buf,
            ),
            _ => layout.pack(padded, &mut buf),
        }
        out.send(ToWriter::Frame(buf))
    }
}
