//! A ring of mappable buffers: frame n is copied into a slot and mapped asynchronously while the
//! GPU already works on frames n+1, n+2; the CPU only waits for the oldest slot when all are busy.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{FrameSink, GpuError};

/// How long one frame may take on the GPU before the render is abandoned.
const FRAME_TIMEOUT: Duration = Duration::from_secs(120);

type MapResult = Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>;

/// Blocks until `submission` is done, within [`FRAME_TIMEOUT`].
pub(crate) fn wait_for(
    device: &wgpu::Device,
    submission: wgpu::SubmissionIndex,
) -> Result<(), GpuError> {
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: Some(FRAME_TIMEOUT),
        })
        .map(|_| ())
        .map_err(|e| match e {
            wgpu::PollError::Timeout => GpuError::Timeout {
                frame: 0,
                seconds: FRAME_TIMEOUT.as_secs(),
            },
            other => GpuError::Validation(other.to_string()),
        })
}

/// Submits `encoder` with copies of `sources` (buffers with `COPY_SRC`, their first `bytes`,
/// each a multiple of 4) into one mappable buffer, waits up to `timeout` and returns each
/// source's bytes. `what` names the data in errors. For tests, tools and small results (face
/// boxes, scores); frames go through the [`ReadbackRing`].
pub fn read_buffers(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    mut encoder: wgpu::CommandEncoder,
    sources: &[(&wgpu::Buffer, u64)],
    timeout: Duration,
    what: &str,
) -> Result<Vec<Vec<u8>>, GpuError> {
    let fail = |reason: String| GpuError::BufferReadback {
        what: what.to_owned(),
        reason,
    };
    if let Some((_, bytes)) = sources
        .iter()
        .find(|(_, b)| b % wgpu::COPY_BUFFER_ALIGNMENT != 0)
    {
        return Err(fail(format!("{bytes} bytes is not a multiple of 4")));
    }
    let total: u64 = sources.iter().map(|(_, b)| b).sum();
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback.staging"),
        size: total.max(wgpu::COPY_BUFFER_ALIGNMENT),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut offset = 0;
    for (buffer, bytes) in sources {
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, offset, *bytes);
        offset += bytes;
    }
    let submission = queue.submit([encoder.finish()]);
    let slice = staging.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: Some(timeout),
        })
        .map_err(|e| fail(format!("waiting for the GPU: {e}")))?;
    rx.recv()
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
    let view = slice.get_mapped_range().map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::with_capacity(sources.len());
    let mut at = 0;
    for (_, bytes) in sources {
        let end = at + *bytes as usize;
        out.push(view[at..end].to_vec());
        at = end;
    }
    drop(view);
    staging.unmap();
    Ok(out)
}

#[derive(Debug)]
struct Slot {
    buffer: wgpu::Buffer,
    mapped: MapResult,
    frame: u64,
    submission: Option<wgpu::SubmissionIndex>,
}

#[derive(Debug)]
pub(crate) struct ReadbackRing {
    slots: Vec<Slot>,
    /// Slots holding submitted frames, oldest first.
    pending: VecDeque<usize>,
    free: Vec<usize>,
}

impl ReadbackRing {
    pub(crate) fn new(device: &wgpu::Device, slots: usize, size: u64) -> Self {
        let slots: Vec<Slot> = (0..slots.max(2))
            .map(|i| Slot {
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("readback.slot{i}")),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                mapped: Arc::default(),
                frame: 0,
                submission: None,
            })
            .collect();
        let free = (0..slots.len()).rev().collect();
        Self {
            slots,
            pending: VecDeque::new(),
            free,
        }
    }

    /// A one-slot ring over an existing mappable buffer, for one-off readbacks.
    pub(crate) fn from_buffer(buffer: wgpu::Buffer) -> Self {
        Self {
            slots: vec![Slot {
                buffer,
                mapped: Arc::default(),
                frame: 0,
                submission: None,
            }],
            pending: VecDeque::new(),
            free: Vec::new(),
        }
    }

    /// A free slot's buffer, completing the oldest pending frame first when none is free.
    pub(crate) fn acquire<E: From<GpuError>>(
        &mut self,
        device: &wgpu::Device,
        sink: &mut FrameSink<'_, E>,
    ) -> Result<usize, E> {
        if self.free.is_empty() {
            self.complete_oldest(device, sink)?;
        }
        self.free
            .pop()
            .ok_or_else(|| GpuError::Config("readback ring has no slots".into()).into())
    }

    pub(crate) fn buffer(&self, slot: usize) -> &wgpu::Buffer {
        &self.slots[slot].buffer
    }

    /// Marks `slot` as holding `frame`, submitted as `submission`, and requests its mapping.
    pub(crate) fn submitted(&mut self, slot: usize, frame: u64, submission: wgpu::SubmissionIndex) {
        let s = &mut self.slots[slot];
        s.frame = frame;
        s.submission = Some(submission);
        let done = s.mapped.clone();
        if let Ok(mut d) = done.lock() {
            *d = None;
        }
        s.buffer.map_async(wgpu::MapMode::Read, .., move |result| {
            if let Ok(mut d) = done.lock() {
                *d = Some(result);
            }
        });
        self.pending.push_back(slot);
    }

    /// Number of frames submitted but not yet handed to the sink.
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Waits for the oldest pending frame, hands its bytes to `sink`, frees its slot.
    pub(crate) fn complete_oldest<E: From<GpuError>>(
        &mut self,
        device: &wgpu::Device,
        sink: &mut FrameSink<'_, E>,
    ) -> Result<bool, E> {
        let Some(index) = self.pending.pop_front() else {
            return Ok(false);
        };
        let slot = &mut self.slots[index];
        let frame = slot.frame;
        let submission = slot.submission.take();
        let result = loop {
            if let Some(r) = slot.mapped.lock().ok().and_then(|mut d| d.take()) {
                break r;
            }
            device
                .poll(wgpu::PollType::Wait {
                    submission_index: submission.clone(),
                    timeout: Some(FRAME_TIMEOUT),
                })
                .map_err(|e| match e {
                    wgpu::PollError::Timeout => GpuError::Timeout {
                        frame,
                        seconds: FRAME_TIMEOUT.as_secs(),
                    },
                    other => GpuError::Readback {
                        frame,
                        reason: other.to_string(),
                    },
                })?;
        };
        result.map_err(|e| GpuError::Readback {
            frame,
            reason: e.to_string(),
        })?;
        let outcome = {
            let view = slot
                .buffer
                .get_mapped_range(..)
                .map_err(|e| GpuError::Readback {
                    frame,
                    reason: e.to_string(),
                })?;
            sink(frame, &view)
        };
        slot.buffer.unmap();
        self.free.push(index);
        outcome.map(|()| true)
    }
}
