//! The drawing thread and its one-place queue: the newest frame request wins.
//!
//! The backend's device is used by this thread only, one frame at a time. A request waits in a
//! single slot; a newer one takes the slot and the older is answered [`Outcome::Superseded`], so
//! scrubbing or playback can never pile work up behind the frame being drawn.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::{Backend, Frame, FrameRequest, Problem};

/// How a frame request ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Drawn(Result<Frame, Problem>, Duration),
    /// A newer request replaced this one before it was drawn.
    Superseded,
}

type Waiting = (FrameRequest, oneshot::Sender<Outcome>);

#[derive(Debug, Default)]
pub(crate) struct FrameQueue {
    slot: Mutex<Slot>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Slot {
    waiting: Option<Waiting>,
    closed: bool,
}

impl FrameQueue {
    /// Queues `request`, replacing (and answering) any request still waiting.
    pub(crate) fn submit(&self, request: FrameRequest) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.closed {
            let _ = tx.send(Outcome::Drawn(
                Err(Problem::plain("the studio is shutting down")),
                Duration::ZERO,
            ));
            return rx;
        }
        if let Some((_, older)) = slot.waiting.replace((request, tx)) {
            let _ = older.send(Outcome::Superseded);
        }
        self.wake.notify_one();
        rx
    }

    /// Stops [`Self::run`] once the request being drawn is done.
    pub(crate) fn close(&self) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.closed = true;
        if let Some((_, tx)) = slot.waiting.take() {
            let _ = tx.send(Outcome::Superseded);
        }
        self.wake.notify_all();
    }

    /// Draws requests until closed (the drawing thread's body).
    pub(crate) fn run(&self, backend: &dyn Backend) {
        loop {
            let (request, reply) = {
                let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if slot.closed {
                        return;
                    }
                    if let Some(w) = slot.waiting.take() {
                        break w;
                    }
                    slot = self.wake.wait(slot).unwrap_or_else(PoisonError::into_inner);
                }
            };
            if reply.is_closed() {
                continue; // the page went away
            }
            let started = Instant::now();
            let frame = Problem::unless_panic("drawing the frame", || backend.frame(&request));
            let _ = reply.send(Outcome::Drawn(frame, started.elapsed()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(time: f64) -> FrameRequest {
        FrameRequest {
            time,
            scale: 0.5,
            hidden: Vec::new(),
        }
    }

    #[test]
    fn a_newer_request_replaces_a_waiting_one() {
        let q = FrameQueue::default();
        let mut first = q.submit(request(1.0));
        let _second = q.submit(request(2.0));
        assert!(matches!(first.try_recv(), Ok(Outcome::Superseded)));
        let slot = q.slot.lock().expect("lock");
        assert_eq!(slot.waiting.as_ref().map(|w| w.0.time), Some(2.0));
    }
}
