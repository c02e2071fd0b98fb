//! The job as the page sees it: its text, the last good load, the current error; re-read when
//! the job file or any file it names changes on disk, and saved from the page.
//!
//! Changes are found by polling modification times and sizes every [`POLL`]: a handful of
//! `stat` calls, portable, and indifferent to how an editor saves (in place, or a new file
//! renamed over the old one, which breaks inotify watches on the file).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use crate::{Backend, JobInfo, Problem};

/// How often the watched files are checked.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// What `/api/state` reports of the job.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobView {
    pub job: PathBuf,
    /// Bumped by every load that succeeded.
    pub generation: u64,
    pub text: String,
    /// The file's modification time, ms since the epoch (the save's conflict check).
    pub modified: u64,
    pub error: Option<Problem>,
    pub info: Option<JobInfo>,
}

/// A file's identity for change detection: modification time and size (None: missing).
type Stamp = Option<(std::time::SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())))
}

/// A stamp's modification time, ms since the epoch (0: missing).
fn millis(stamp: Stamp) -> u64 {
    stamp
        .and_then(|(t, _)| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// The job file's state and the stamps of the files it was loaded from.
#[derive(Debug)]
pub(crate) struct Jobs {
    pub(crate) path: PathBuf,
    view: Mutex<JobView>,
    watched: Mutex<Vec<(PathBuf, Stamp)>>,
    /// Held while saving or reloading, so the two do not interleave.
    busy: Mutex<()>,
}

/// A save refused because the file changed since the page loaded it.
#[derive(Debug)]
pub(crate) enum SaveError {
    Conflict { modified: u64 },
    Io(std::io::Error),
}

impl Jobs {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            view: Mutex::new(JobView {
                job: path.clone(),
                generation: 0,
                text: String::new(),
                modified: 0,
                error: None,
                info: None,
            }),
            path,
            watched: Mutex::new(Vec::new()),
            busy: Mutex::new(()),
        }
    }

    pub(crate) fn view(&self) -> JobView {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last good job's info.
    pub(crate) fn info(&self) -> Option<JobInfo> {
        self.loaded().map(|(info, _)| info)
    }

    /// The last good job's info and its generation, read together (without the job's text).
    pub(crate) fn loaded(&self) -> Option<(JobInfo, u64)> {
        let view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        view.info.clone().map(|info| (info, view.generation))
    }

    /// The generation of the last good load.
    pub(crate) fn generation(&self) -> u64 {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Re-reads the job through the backend and records what it names for watching.
    pub(crate) fn reload(&self, backend: &dyn Backend) -> JobView {
        let _busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        self.reload_locked(backend)
    }

    /// Re-reads the job if a watched file changed since the last load (checked once the
    /// reload may start, so a save's own write, reloaded by the save, is not read twice).
    pub(crate) fn reload_if_changed(&self, backend: &dyn Backend) -> Option<JobView> {
        if !self.changed() {
            return None;
        }
        let _busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        self.changed().then(|| self.reload_locked(backend))
    }

    fn reload_locked(&self, backend: &dyn Backend) -> JobView {
        // The time read before the text: a write in between makes a later save conflict (and
        // is reloaded), rather than pass for the text shown.
        let before = stamp(&self.path);
        let text = std::fs::read_to_string(&self.path);
        let modified = millis(before);
        let loaded = match &text {
            Ok(_) => Problem::unless_panic("reading the job", || backend.load(&self.path)),
            Err(e) => Err(Problem::plain(format!(
                "{}: cannot read the job file: {e}",
                self.path.display()
            ))),
        };
        let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        view.text = text.unwrap_or_default();
        view.modified = modified;
        let mut files = vec![(self.path.clone(), before)];
        match loaded {
            Ok(info) => {
                files.extend(info.files.iter().map(|f| (f.clone(), stamp(f))));
                view.generation += 1;
                view.error = None;
                view.info = Some(info);
            }
            Err(problem) => {
                // Keep watching what the last good job named (a fix may land in any of them).
                if let Some(info) = &view.info {
                    files.extend(info.files.iter().map(|f| (f.clone(), stamp(f))));
                }
                log::info!("studio: the job does not load: {}", problem.message);
                view.error = Some(problem);
            }
        }
        *self.watched.lock().unwrap_or_else(PoisonError::into_inner) = files;
        view.clone()
    }

    /// Whether any watched file changed since the last load.
    pub(crate) fn changed(&self) -> bool {
        self.watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(path, seen)| stamp(path) != *seen)
    }

    /// Writes `text` to the job file atomically (a temporary file renamed over it), unless the
    /// file changed on disk since the page read it (`base`, ms) and `force` is not set; then
    /// reloads.
    pub(crate) fn save(
        &self,
        backend: &dyn Backend,
        text: &str,
        base: Option<u64>,
        force: bool,
    ) -> Result<JobView, SaveError> {
        let _busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let on_disk = millis(stamp(&self.path));
        if !force && base.is_some_and(|b| b != on_disk) {
            return Err(SaveError::Conflict { modified: on_disk });
        }
        let tmp = media::temp_path_for(&self.path);
        let written = std::fs::write(&tmp, text).and_then(|()| {
            // Keep the file's permissions.
            if let Ok(meta) = std::fs::metadata(&self.path) {
                std::fs::set_permissions(&tmp, meta.permissions())?;
            }
            std::fs::rename(&tmp, &self.path)
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(SaveError::Io(e));
        }
        Ok(self.reload_locked(backend))
    }
}
