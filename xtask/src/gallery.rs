//! `cargo xtask gallery`: one still per style job in assets/styles/ into assets/gallery/, shown
//! in the README. Stills are rendered by the release renderer's `--preview` at half size and
//! stored as JPEG (the dithered gradients make PNGs of these pictures ~10x larger).

use std::path::Path;
use std::process::Command;

/// Seconds into the demo track the stills show (a busy moment of it).
const TIME: &str = "6.0";

pub fn run(root: &Path) -> anyhow::Result<()> {
    crate::step(
        "cargo build --release -p renderer",
        crate::cargo(&["build", "--release", "-p", "renderer"]),
    )?;
    let renderer = root.join("target/release/renderer");
    let styles = root.join("assets/styles");
    let out_dir = root.join("assets/gallery");
    std::fs::create_dir_all(&out_dir)?;
    let mut jobs: Vec<_> = std::fs::read_dir(&styles)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    jobs.sort();
    anyhow::ensure!(!jobs.is_empty(), "no style jobs in {}", styles.display());
    let tmp = std::env::temp_dir().join(format!("gallery-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    for job in &jobs {
        let name = job
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let png = tmp.join(format!("{name}.png"));
        let status = Command::new(&renderer)
            .arg(job)
            .args(["--preview", TIME, "--scale", "0.5", "--quiet", "--output"])
            .arg(&png)
            .status()?;
        anyhow::ensure!(status.success(), "{} failed ({status})", job.display());
        let jpg = out_dir.join(format!("{name}.jpg"));
        let status = Command::new(media::ffmpeg_program())
            .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(&png)
            .args(["-q:v", "3"])
            .arg(&jpg)
            .status()?;
        anyhow::ensure!(status.success(), "ffmpeg could not write {}", jpg.display());
        println!("{}", jpg.display());
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
