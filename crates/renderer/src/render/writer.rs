//! The "writer" thread: owns the ffmpeg child (or only counts frames, for encoder = null) and
//! feeds it the frames the render loop hands over through a bounded channel.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use media::{EncodeStats, FfmpegEncoder};

use super::{Progress, RING_SLOTS};
use crate::RenderError;

/// What the render loop sends the writer.
pub(super) enum ToWriter {
    /// A tightly packed NV12 frame (x264).
    Frame(Vec<u8>),
    /// One frame's Annex-B bytes (NVENC).
    Encoded(Vec<u8>),
    /// All frames were sent: finish the encode and move the output into place.
    Finish,
}

/// The writer thread and its channels.
pub(super) struct Writer {
    tx: SyncSender<ToWriter>,
    /// Frame buffers the writer is done with, for the next frames.
    recycled: Receiver<Vec<u8>>,
    thread: JoinHandle<Result<Option<EncodeStats>, RenderError>>,
}

impl Writer {
    /// Starts the thread; `encoder` is `None` for encoder = null.
    pub(super) fn spawn(mut encoder: Option<FfmpegEncoder>) -> Result<Self, RenderError> {
        let (tx, frame_rx) = sync_channel::<ToWriter>(RING_SLOTS);
        let (recycle_tx, recycled) = sync_channel::<Vec<u8>>(RING_SLOTS + 2);
        let thread = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || -> Result<Option<EncodeStats>, RenderError> {
                for message in frame_rx {
                    match message {
                        ToWriter::Frame(frame) => {
                            if let Some(enc) = encoder.as_mut() {
                                enc.write_frame(&frame)?;
                            }
                            let _ = recycle_tx.try_send(frame);
                        }
                        ToWriter::Encoded(bytes) => {
                            if let Some(enc) = encoder.as_mut() {
                                enc.write_encoded(&bytes, 1)?;
                            }
                        }
                        ToWriter::Finish => {
                            return match encoder.take() {
                                Some(enc) => Ok(Some(enc.finish()?)),
                                None => Ok(None),
                            };
                        }
                    }
                }
                // The render stopped without `Finish`: dropping the encoder kills ffmpeg and
                // removes its temporary file.
                Err(RenderError::Cancelled)
            })
            .map_err(|source| RenderError::ThreadSpawn {
                thread: "writer",
                source,
            })?;
        Ok(Self {
            tx,
            recycled,
            thread,
        })
    }

    /// Sends `Finish` and waits for the encode to end (ffmpeg's statistics; `None` for null).
    pub(super) fn finish(self) -> Result<Option<EncodeStats>, RenderError> {
        let _ = self.tx.send(ToWriter::Finish);
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| RenderError::ThreadPanicked { thread: "writer" })?
    }

    /// Closes the channel without `Finish`, which makes the writer abort (no output), and returns
    /// the error that explains the render's failure `e` best: the writer's own (ffmpeg died, disk
    /// full) where the render only saw the writer stop.
    pub(super) fn abort(self, e: RenderError) -> RenderError {
        drop(self.tx);
        match (e, self.thread.join()) {
            (RenderError::WriterStopped, Ok(Err(w))) => w,
            (e, _) => e,
        }
    }
}

/// Hands drawn frames to the writer, counting them and reporting progress.
pub(super) struct Delivery<'w, 'p> {
    writer: &'w Writer,
    progress: Option<&'p mut dyn FnMut(&Progress)>,
    /// Frames handed over so far.
    pub(super) done: u64,
    total: u64,
    started: Instant,
}

impl<'w, 'p> Delivery<'w, 'p> {
    pub(super) fn new(
        writer: &'w Writer,
        progress: Option<&'p mut dyn FnMut(&Progress)>,
        total: u64,
        started: Instant,
    ) -> Self {
        Self {
            writer,
            progress,
            done: 0,
            total,
            started,
        }
    }

    /// A buffer for the next packed frame (one the writer is done with, where there is one).
    pub(super) fn recycled(&self) -> Vec<u8> {
        self.writer.recycled.try_recv().unwrap_or_default()
    }

    /// Sends one frame's message and reports progress.
    pub(super) fn send(&mut self, message: ToWriter) -> Result<(), RenderError> {
        if self.writer.tx.send(message).is_err() {
            return Err(RenderError::WriterStopped);
        }
        self.done += 1;
        if let Some(cb) = self.progress.as_mut() {
            cb(&Progress {
                frames_done: self.done,
                frames_total: self.total,
                elapsed: self.started.elapsed(),
            });
        }
        Ok(())
    }
}
