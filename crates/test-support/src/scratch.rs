//! Scratch folders: one fresh folder per call under the system's temporary directory, removed
//! when dropped, except when the test is failing (dropped while panicking) or
//! `$TEST_KEEP_SCRATCH` is set, where the folder is left and named on standard error so that
//! its files can be looked at; and except after [`Scratch::keep`], for files the process still
//! needs after the test's scope (a library it has loaded).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty folder for one test. Dereferences to its [`Path`].
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    keep: bool,
}

impl Scratch {
    /// Creates `<temp>/test-<name>-<process id>-<counter>`: unique per call, so tests running
    /// in parallel (threads or processes) never share one.
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = name.replace(['/', '\\'], "-");
        let dir = std::env::temp_dir().join(format!(
            "test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("create scratch folder {}: {e}", dir.display()));
        Self { dir, keep: false }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `name` inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Names of all entries in the folder, sorted (to check that nothing partial was left).
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Gives up the folder: it is left in place, silently, and its path returned.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        std::mem::take(&mut self.dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.dir
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let why = if self.keep {
            return;
        } else if std::thread::panicking() {
            "the test failed"
        } else if std::env::var_os("TEST_KEEP_SCRATCH").is_some() {
            "TEST_KEEP_SCRATCH is set"
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        };
        // Past the harness's capture, like a skip: the folder is there to be looked at.
        let _ = writeln!(
            std::io::stderr().lock(),
            "scratch folder {} left in place: {why}",
            self.dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_fresh_unique_and_removed_on_drop() {
        let a = Scratch::new("unique");
        let b = Scratch::new("unique");
        assert_ne!(a.dir(), b.dir());
        assert!(a.is_dir() && a.files().is_empty());
        std::fs::write(a.path("x.txt"), b"x").expect("write");
        assert_eq!(a.files(), ["x.txt"]);
        let gone = a.dir().to_owned();
        drop(a);
        assert!(!gone.exists() || std::env::var_os("TEST_KEEP_SCRATCH").is_some());
    }

    #[test]
    fn a_failing_test_keeps_its_folder() {
        let kept = std::thread::spawn(|| {
            let s = Scratch::new("failing");
            let dir = s.dir().to_owned();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let _s = s;
                panic!("deliberate failure");
            }));
            assert!(r.is_err());
            dir
        })
        .join()
        .expect("thread");
        assert!(kept.is_dir(), "{} removed", kept.display());
        std::fs::remove_dir_all(&kept).expect("cleanup");
    }
}
