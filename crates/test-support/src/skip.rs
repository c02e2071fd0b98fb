//! Visible skips and the CI flag.
//!
//! A test that cannot run here (no GPU adapter, no ffmpeg, no PyTorch) calls [`skip`] and
//! returns. The line goes straight to the process's standard error, past the test harness's
//! capture (which hides `eprintln!` of passing tests), and is appended to the file named by
//! `$TEST_SKIP_LOG` when set: `cargo xtask test` sets it, lists every skip at the end, and under
//! `CI=true` fails the run for any skip not on its allow-list (xtask/allowed-skips.txt).

use std::io::Write;

/// True when the environment says this is a CI run (`CI=true` or `CI=1`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `test` did not run, and why. The caller returns right after.
pub fn skip(test: &str, reason: &str) {
    // One line, no tabs or newlines inside its fields (the log is tab-separated).
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let (test, reason) = (clean(test), clean(reason));
    // Written with `write_all` on the raw handle, not `eprintln!`: libtest captures only the
    // print macros, so this shows even when the test passes.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {reason}");
    if let Some(path) = std::env::var_os("TEST_SKIP_LOG") {
        append(std::path::Path::new(&path), &test, &reason);
    }
}

/// Appends `test<TAB>reason` to the skip log. One short line per `write` with O_APPEND: lines
/// from concurrent test threads and processes do not interleave on a local file system.
fn append(path: &std::path::Path, test: &str, reason: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("{test}\t{reason}\n").as_bytes());
    }
}

/// [`skip`] for a missing prerequisite, except under CI, where it is a failure: panics with
/// `reason` when [`ci`] is true.
pub fn skip_unless_ci(test: &str, reason: &str) {
    assert!(!ci(), "CI=true and {test} cannot run: {reason}");
    skip(test, reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_are_logged_one_tab_separated_line_each() {
        let dir = crate::Scratch::new("skip-log");
        let log = dir.path("skips.log");
        append(&log, "first_test", "no adapter");
        append(&log, "second_test", "no ffmpeg");
        let text = std::fs::read_to_string(&log).expect("log written");
        assert_eq!(text, "first_test\tno adapter\nsecond_test\tno ffmpeg\n");
    }
}
