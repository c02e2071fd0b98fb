//! The "analysis" thread: decodes and analyses the audio, sending chunks of frames.

use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

use audio::{FrameAnalyzer, FrameBuffers, FrameFeatures};

use super::CHUNK_FRAMES;
use crate::RenderError;

/// Scalar features and per-frame arrays (bands, peaks, waveform) of consecutive frames.
pub(super) struct Chunk {
    pub(super) features: Vec<FrameFeatures>,
    pub(super) levels: Vec<f32>,
}

/// What the analysis thread returns when it ends.
pub(super) struct AnalysisEnd {
    pub(super) skipped_packets: usize,
}

/// Decodes and analyses on a thread of its own, sending chunks of frames.
pub(super) fn spawn_analysis(
    mut analyzer: FrameAnalyzer,
    tx: SyncSender<Chunk>,
) -> Result<JoinHandle<Result<AnalysisEnd, RenderError>>, RenderError> {
    std::thread::Builder::new()
        .name("analysis".into())
        .spawn(move || {
            let mut buffers = analyzer.buffers();
            let stride = 2 * buffers.bands.len() + 3 * buffers.waveform.len();
            loop {
                let mut chunk = Chunk {
                    features: Vec::with_capacity(CHUNK_FRAMES as usize),
                    levels: Vec::with_capacity(CHUNK_FRAMES as usize * stride),
                };
                while chunk.features.len() < CHUNK_FRAMES as usize {
                    match analyzer.next_frame(&mut buffers)? {
                        Some(f) => {
                            chunk.features.push(f);
                            push_levels(&mut chunk.levels, &buffers);
                        }
                        None => break,
                    }
                }
                let last = chunk.features.len() < CHUNK_FRAMES as usize;
                if !chunk.features.is_empty() && tx.send(chunk).is_err() {
                    break; // the render stopped
                }
                if last {
                    break;
                }
            }
            Ok(AnalysisEnd {
                skipped_packets: analyzer.decoder().skipped_packets,
            })
        })
        .map_err(|source| RenderError::ThreadSpawn {
            thread: "analysis",
            source,
        })
}

/// Appends one frame's arrays in upload order (see `frame_stride`): band levels, peak-hold
/// levels, the mono waveform pairs, then the left and right waveform pairs.
pub(super) fn push_levels(levels: &mut Vec<f32>, frame: &FrameBuffers) {
    levels.extend_from_slice(&frame.bands);
    levels.extend_from_slice(&frame.peaks);
    levels.extend_from_slice(&frame.waveform);
    levels.extend_from_slice(&frame.waveform_stereo);
}
