//! Builds the stand-in CUDA and NVENC driver libraries (`fake_cuda.c`, `fake_nvenc.c` in this
//! folder) with `cc`. Shared by crates/nvenc/tests/fake_driver.rs and the renderer's
//! tests/encoders.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles `<sources>/<name>.c` with `defines` into `<dir>/lib<name>.so`; None (skip) without
/// a C compiler, except under CI=true where that fails the test.
pub fn build(sources: &Path, dir: &Path, name: &str, defines: &[String]) -> Option<PathBuf> {
    let src = sources.join(format!("{name}.c"));
    let out = dir.join(format!("lib{name}.so"));
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg(&src)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("compiling {} failed: {s}", src.display()),
        Err(e) => {
            test_support::skip_unless_ci(
                "nvenc fake-driver tests",
                &format!("no C compiler to build the stand-in driver: {e}"),
            );
            None
        }
    }
}

/// The define that gives the fake CUDA device the UUID `u`.
pub fn uuid_define(u: &[u8; 16]) -> String {
    let bytes: Vec<String> = u.iter().map(|b| format!("{b:#04x}")).collect();
    format!("FAKE_UUID={}", bytes.join(","))
}
