//! The full render started from the page: one at a time, on a thread of its own, with progress,
//! ETA and cancel.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{Backend, Problem, RenderProgress};

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

impl RenderView {
    /// A view in `state` with nothing done yet.
    fn fresh(state: Phase) -> Self {
        Self {
            state,
            done: 0,
            total: 0,
            fps: 0.0,
            eta_seconds: None,
            message: None,
            output_url: None,
            output: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Renders {
    view: Mutex<RenderView>,
    cancel: Mutex<Option<Arc<AtomicBool>>>,
    /// The last render's thread (joined when the studio stops).
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Default for Renders {
    fn default() -> Self {
        Self {
            view: Mutex::new(RenderView::fresh(Phase::Idle)),
            cancel: Mutex::new(None),
            thread: Mutex::new(None),
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

    /// Calls `f` with the view locked: what `f` sends is ordered with the render's own events
    /// (sent under the same lock).
    pub(crate) fn locked<R>(&self, f: impl FnOnce(&RenderView) -> R) -> R {
        f(&self.view.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Starts a render unless one runs; `notify` gets every change of the view.
    pub(crate) fn start(
        self: &Arc<Self>,
        backend: Arc<dyn Backend>,
        notify: impl Fn(&RenderView) + Send + Sync + 'static,
    ) -> Result<(), &'static str> {
        let notify = Arc::new(notify);
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            if view.state == Phase::Running {
                return Err("a render is already running (cancel it first)");
            }
            *view = RenderView::fresh(Phase::Running);
            notify(&view);
            *self.cancel.lock().unwrap_or_else(PoisonError::into_inner) = Some(cancel.clone());
        }
        let me = self.clone();
        let notify_thread = notify.clone();
        let spawned = std::thread::Builder::new()
            .name("studio-render".into())
            .spawn(move || {
                let mut sent = Instant::now() - PROGRESS_EVERY;
                let mut on_progress = |p: RenderProgress| {
                    let mut view = me.view.lock().unwrap_or_else(PoisonError::into_inner);
                    (view.done, view.total, view.fps) = (p.done, p.total, p.fps);
                    view.eta_seconds = p.eta_seconds;
                    if sent.elapsed() >= PROGRESS_EVERY {
                        sent = Instant::now();
                        notify_thread(&view);
                    }
                };
                let result = Problem::unless_panic("the render", || {
                    backend.render(&mut on_progress, cancel.clone())
                });
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
                notify_thread(&view);
                *me.cancel.lock().unwrap_or_else(PoisonError::into_inner) = None;
            });
        match spawned {
            Ok(thread) => {
                *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread);
                Ok(())
            }
            Err(_) => {
                let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
                view.state = Phase::Failed;
                view.message = Some("cannot start a render thread".into());
                notify(&view);
                *self.cancel.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Err("cannot start a render thread")
            }
        }
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

    /// Cancels the running render (if any) and waits for its thread to end.
    pub(crate) fn stop(&self) {
        self.cancel();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}
