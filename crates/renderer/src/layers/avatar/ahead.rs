//! Centred box smoothing for a face video, as Wav2Lip smooths (over boxes detected ahead as well
//! as behind): a second decoder of the face video runs `ahead` frames in front of the drawn
//! frame, started at the same time and frame rate as the picture's own decoder, so its n-th
//! frame is the picture's n-th. Each of its frames gets its shot-change check and, on the
//! detection grid, its detection; the drawn frame's box is the mean of the boxes found within
//! the window around it, in its own shot. Memory: one decoded frame and the window's boxes.

use std::collections::VecDeque;
use std::path::Path;

use media::video::{VideoFrameOptions, VideoFrames};

/// What was seen on one frame of the look-ahead decoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seen {
    /// Absolute frame index (the render's frame grid).
    pub frame: u64,
    /// Shots counted from the first frame seen: a cut starts the next.
    pub shot: u64,
    /// This frame starts a shot (after the first frame seen).
    pub cut: bool,
    /// The detector ran on this frame.
    pub detected: bool,
    /// The face chosen, where the detector ran and found one.
    pub face: Option<[f32; 4]>,
}

/// The look-ahead decoder and the frames it has seen.
pub(crate) struct Ahead {
    frames: VideoFrames,
    size: (u32, u32),
    bytes: Vec<u8>,
    /// The frame the decoder yields next.
    next: u64,
    shot: u64,
    seen: VecDeque<Seen>,
}

impl std::fmt::Debug for Ahead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ahead")
            .field("next", &self.next)
            .field("seen", &self.seen.len())
            .finish()
    }
}

impl Ahead {
    /// Starts decoding `path` at `size` and `fps` from `time` (the first frame processed,
    /// absolute index `frame`), looped like the picture's own decoder.
    pub(crate) fn spawn(
        path: &Path,
        size: (u32, u32),
        fps: f64,
        time: f64,
        frame: u64,
    ) -> Result<Self, media::MediaError> {
        let frames = VideoFrames::spawn(
            path,
            &VideoFrameOptions {
                width: size.0,
                height: size.1,
                fps,
                start: time.max(0.0),
                looped: true,
            },
        )?;
        Ok(Self {
            frames,
            size,
            bytes: Vec::new(),
            next: frame,
            shot: 0,
            seen: VecDeque::new(),
        })
    }

    /// The frame the decoder yields next.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Decodes the next frame (its bytes: [`Self::current`]); false when the decoder has
    /// none.
    pub(crate) fn decode(&mut self) -> Result<bool, crate::RenderError> {
        Ok(self.frames.next_frame(&mut self.bytes)?)
    }

    /// The decoded frame's bytes, size and absolute index.
    pub(crate) fn current(&self) -> (&[u8], (u32, u32), u64) {
        (&self.bytes, self.size, self.next)
    }

    /// The shot the decoded frame belongs to when it starts one (`cut`) or not.
    pub(crate) fn shot_of(&self, cut: bool) -> u64 {
        self.shot + u64::from(cut)
    }

    /// Records the decoded frame: whether it starts a shot, and the detector's choice on it
    /// (None: not a detection frame).
    pub(crate) fn push(&mut self, cut: bool, detection: Option<Option<[f32; 4]>>) {
        self.shot = self.shot_of(cut);
        self.seen.push_back(Seen {
            frame: self.next,
            shot: self.shot,
            cut,
            detected: detection.is_some(),
            face: detection.flatten(),
        });
        self.next += 1;
    }

    /// What was seen on `frame`, if it is still kept.
    pub(crate) fn get(&self, frame: u64) -> Option<Seen> {
        self.seen.iter().find(|s| s.frame == frame).copied()
    }

    /// True when a detection already ran on a frame of `shot`.
    pub(crate) fn detected_in(&self, shot: u64) -> bool {
        self.seen.iter().any(|s| s.shot == shot && s.detected)
    }

    /// The latest frame at or before `frame` the detector ran on, in `frame`'s shot.
    pub(crate) fn own_detection(&self, frame: u64) -> Option<Seen> {
        let shot = self.get(frame)?.shot;
        self.seen
            .iter()
            .rev()
            .find(|s| s.frame <= frame && s.shot == shot && s.detected)
            .copied()
    }

    /// The mean of the boxes found on frames `before ..= after` around `frame`, in its shot.
    pub(crate) fn mean(&self, frame: u64, before: u64, after: u64) -> Option<[f32; 4]> {
        let shot = self.get(frame)?.shot;
        let lo = frame.saturating_sub(before);
        let boxes: Vec<[f32; 4]> = self
            .seen
            .iter()
            .filter(|s| s.shot == shot && (lo..=frame + after).contains(&s.frame))
            .filter_map(|s| s.face)
            .collect();
        if boxes.is_empty() {
            return None;
        }
        let n = boxes.len() as f32;
        let mut mean = [0.0f32; 4];
        for b in &boxes {
            for k in 0..4 {
                mean[k] += b[k] / n;
            }
        }
        Some(mean)
    }

    /// Forgets frames before `frame`.
    pub(crate) fn forget_before(&mut self, frame: u64) {
        while self.seen.front().is_some_and(|s| s.frame < frame) {
            self.seen.pop_front();
        }
    }
}
