//! Fetching files that ship inside Python wheels (the MTCNN weights in facenet-pytorch's) with
//! the user's own `python3 -m pip download`: nothing is bundled with this project.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Wav2LipError;

/// The facenet-pytorch release whose wheel holds the MTCNN weights.
pub const FACENET_SPEC: &str = "facenet-pytorch==2.6.0";
const FACENET_WHEEL: &str = "facenet_pytorch-2.6.0-py3-none-any.whl";

/// The renderer's cache folder (fetched weights, the styles' files): `$XDG_CACHE_HOME/renderer`,
/// else `~/.cache/renderer`, else `renderer` in the system's temporary folder.
pub fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("renderer")
}

/// The folder the renderer looks in for the MTCNN weights when a job names none:
/// `$RENDERER_MTCNN_DIR`, else `mtcnn` in [`cache_root`].
pub fn default_weights_dir() -> PathBuf {
    match std::env::var_os("RENDERER_MTCNN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => cache_root().join("mtcnn"),
    }
}

/// Downloads `spec` (e.g. `pkg==1.0`) with pip into `cache` unless a file named `wheel` is
/// already there, then extracts the wheel's `members` into `dest` (by file name). `pip_args`
/// are extra arguments for `pip download` (platform tags for binary wheels).
pub fn wheel_members(
    spec: &str,
    wheel: &str,
    pip_args: &[&str],
    cache: &Path,
    members: &[&str],
    dest: &Path,
) -> Result<Vec<PathBuf>, Wav2LipError> {
    let fail = |what: String| Wav2LipError::Detector(what);
    std::fs::create_dir_all(cache)
        .map_err(|e| fail(format!("cannot create {}: {e}", cache.display())))?;
    std::fs::create_dir_all(dest)
        .map_err(|e| fail(format!("cannot create {}: {e}", dest.display())))?;
    let wheel_path = cache.join(wheel);
    if !wheel_path.is_file() {
        let out = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "-d"])
            .arg(cache)
            .args(pip_args)
            .arg(spec)
            .output()
            .map_err(|e| {
                fail(format!(
                    "cannot run python3 to download {spec}: {e} (install python3 and pip)"
                ))
            })?;
        if !out.status.success() || !wheel_path.is_file() {
            return Err(fail(format!(
                "`python3 -m pip download --no-deps {spec}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    let file = std::fs::File::open(&wheel_path)
        .map_err(|e| fail(format!("cannot open {}: {e}", wheel_path.display())))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| fail(format!("{} is not a wheel: {e}", wheel_path.display())))?;
    let mut written = Vec::new();
    for member in members {
        let name = Path::new(member)
            .file_name()
            .map(|n| n.to_owned())
            .ok_or_else(|| fail(format!("bad member name {member}")))?;
        let target = dest.join(name);
        if !target.is_file() {
            let mut entry = archive
                .by_name(member)
                .map_err(|e| fail(format!("{} has no {member}: {e}", wheel_path.display())))?;
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| fail(format!("reading {member}: {e}")))?;
            // Temporary file + rename: an interrupted fetch never leaves a truncated file.
            let tmp = target.with_extension("partial");
            std::fs::write(&tmp, &bytes)
                .and_then(|()| std::fs::rename(&tmp, &target))
                .map_err(|e| fail(format!("cannot write {}: {e}", target.display())))?;
        }
        written.push(target);
    }
    Ok(written)
}

/// Puts `pnet.pt`, `rnet.pt` and `onet.pt` into `dest`, downloading facenet-pytorch's wheel
/// with pip into `dest/download` when needed.
pub fn mtcnn_weights(dest: &Path) -> Result<Vec<PathBuf>, Wav2LipError> {
    wheel_members(
        FACENET_SPEC,
        FACENET_WHEEL,
        &[],
        &dest.join("download"),
        &[
            "facenet_pytorch/data/pnet.pt",
            "facenet_pytorch/data/rnet.pt",
            "facenet_pytorch/data/onet.pt",
        ],
        dest,
    )
}

/// A real photograph of a person for tests and benchmarks: scikit-image's `astronaut.png`
/// (Eileen Collins, NASA, public domain; 512x512), taken from the scikit-image 0.26.0 wheel
/// (downloaded with pip into `cache` once). Returns the PNG's path in `cache`.
pub fn test_photo(cache: &Path) -> Result<PathBuf, Wav2LipError> {
    let files = wheel_members(
        "scikit-image==0.26.0",
        "scikit_image-0.26.0-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        &[
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
            "--platform",
            "manylinux_2_28_x86_64",
        ],
        cache,
        &["skimage/data/astronaut.png"],
        cache,
    )?;
    files
        .into_iter()
        .next()
        .ok_or_else(|| Wav2LipError::Detector("the wheel gave no astronaut.png".into()))
}
