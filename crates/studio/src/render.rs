//! The full render started from the page: one at a time, on a thread of its own, with progress,
//! ETA and cancel.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{Backend, RenderProgress};

/// How often progress is sent to the page at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    Idle,
    Running,
    Done,
    Failed,
    Cancelled,
}

/// What the page shows of the render.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RenderView {
    pub state: Phase,
    pub done: u64,
    pub total: u64,
    pub fps: f64,
    pub eta_seconds: Option<f64>,
    pub message: Option<String>,
    pub output_url: Option<&'static str>,
    #[serde(skip)]
    pub output: Option<PathBuf>,
}

#[derive(Debug)]
pub(crate) struct Renders {
    view: Mutex<RenderView>,
    cancel: Mutex<Option<Arc<AtomicBool>>>,
}

impl Default for Renders {
    fn default() -> Self {
        Self {
            view: Mutex::new(RenderView {
                state: Phase::Idle,
                done: 0,
                total: 0,
                fps: 0.0,
                eta_seconds: None,
                message: None,
                output_url: None,
                output: None,
            }),
            cancel: Mutex::new(None),
        }
    }
}

impl Renders {
    pub(crate) fn view(&self) -> RenderView {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a render unless one runs; `notify` gets every change of the view.
    pub(crate) fn start(
        self: &Arc<Self>,
        backend: Arc<dyn Backend>,
        notify: impl Fn(&RenderView) + Send + 'static,
    ) -> Result<(), &'static str> {
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            if view.state == Phase::Running {
                return Err("a render is already running (cancel it first)");
            }
            *view = RenderView {
                state: Phase::Running,
                done: 0,
                total: 0,
                fps: 0.0,
                eta_seconds: None,
                message: None,
                output_url: None,
                output: None,
            };
            notify(&view);
            *self.cancel.lock().unwrap_or_else(PoisonError::into_inner) = Some(cancel.clone());
        }
        let me = self.clone();
        std::thread::Builder::new()
            .name("studio-render".into())
            .spawn(move || {
                let mut sent = Instant::now() - PROGRESS_EVERY;
                let mut on_progress = |p: RenderProgress| {
                    let mut view = me.view.lock().unwrap_or_else(PoisonError::into_inner);
                    (view.done, view.total, view.fps) = (p.done, p.total, p.fps);
                    view.eta_seconds = p.eta_seconds;
                    if sent.elapsed() >= PROGRESS_EVERY {
                        sent = Instant::now();
                        notify(&view);
                    }
                };
                let result = backend.render(&mut on_progress, cancel.clone());
                let mut view = me.view.lock().unwrap_or_else(PoisonError::into_inner);
                match result {
                    Ok(path) => {
                        view.state = Phase::Done;
                        view.done = view.total.max(view.done);
                        view.eta_seconds = Some(0.0);
                        view.output = Some(path);
                        view.output_url = Some("/api/output");
                    }
                    Err(_) if cancel.load(Ordering::Relaxed) => {
                        view.state = Phase::Cancelled;
                    }
                    Err(problem) => {
                        view.state = Phase::Failed;
                        view.message = Some(problem.message);
                    }
                }
                notify(&view);
                *me.cancel.lock().unwrap_or_else(PoisonError::into_inner) = None;
            })
            .map(|_| ())
            .map_err(|_| "cannot start a render thread")
    }

    /// Asks the running render (if any) to stop.
    pub(crate) fn cancel(&self) -> bool {
        match &*self.cancel.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
