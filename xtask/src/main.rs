//! Developer tasks: `cargo xtask <command>`.
//!
//! * `doctor`   — checks the prerequisites (Rust, ffmpeg with libx264, a Vulkan adapter) and
//!   prints the exact fix for anything missing; reports the NVENC path (Vulkan external memory,
//!   CUDA and its device UUID, NVENC) as information: its absence is not a failure.
//! * `test`     — the project's test command: doctor, rustfmt check, clippy -D warnings, and
//!   `cargo test --workspace`.
//! * `gen-demo` — regenerates assets/demo.flac (procedural music owned by the project).
//! * `bench`    — side-by-side performance figures (see bench.rs).
//! * `fuzz`     — bounded, seeded cargo-fuzz runs of every target in fuzz/.
//! * `scale-test` — the Slurm split render of deploy/slurm on a throwaway local cluster, timed
//!   against a single render (see scale.rs).
//! * `device-check` — builds target/device-check/: the NVENC path's checks for an NVIDIA
//!   machine with no toolchain (see device_check.rs).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod avatar_bench;
mod bench;
mod demo;
mod device_check;
mod doctor;
mod fuzz;
mod gallery;
mod scale;
mod studio_bench;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  doctor            check prerequisites and print the fix for anything missing; report the
                    NVENC path (Vulkan external memory, CUDA, UUID match, NVENC) as information
  device-check [--run]
                    build target/device-check/ (release binaries + run.sh) that checks the
                    zero-copy NVENC path on an NVIDIA machine without Rust; --run runs it here
  test [--no-lint]  doctor, rustfmt --check, clippy -D warnings, cargo test --workspace
  gen-demo          regenerate assets/demo.flac and assets/cover.jpg (needs ffmpeg)
  gallery           render a still per style in assets/styles/ into assets/gallery/
  fuzz [--seconds N] [--seed S] [--target T]
                    run each cargo-fuzz target (job parser, analysis, checkpoint, Annex-B,
                    audio containers) for N seconds (default 60) from the committed corpus,
                    mutations seeded with S (default 1; 0 = random); needs `cargo install cargo-fuzz`
  bench [--quick] [--audio FILE] [--seconds S] [--seconds-4k S] [--repeats N] [--baseline BIN]
        [--memory-minutes M,M]
                    side-by-side figures: ours vs ffmpeg showfreqs vs the x264 floor,
                    null encoder, 4K, memory flatness; writes docs/BENCHMARKS.md and
                    bench/results.json (--quick: under two minutes); --baseline: an
                    earlier renderer binary measured beside ours (before/after ratios)
  bench-avatar [--frames N] [--backend auto|gpu|cpu] [--memory A,B]
                    talking-avatar frames/s at 720p side by side: MTCNN + Wav2Lip every
                    frame, every 5th frame, fixed box, and the plain video background;
                    --memory: peak RSS for an A s and a B s avatar render; appends to
                    docs/BENCHMARKS.md (downloads test data with pip)
  bench-studio      the studio's figures alone (also part of bench): save -> frame, seek,
                    playback frames/s, RSS; printed, not recorded
  fetch-mtcnn [DIR]  puts the MTCNN face-detector weights (pnet.pt, rnet.pt, onet.pt, MIT)
                    that avatar layers need into DIR (default: the renderer's cache folder,
                    $RENDERER_MTCNN_DIR or ~/.cache/renderer/mtcnn), taken from the
                    facenet-pytorch 2.6.0 wheel with `python3 -m pip download`
  scale-test [--segments N] [--seconds S] [--size WxH] [--keep]
                    split render on a throwaway single-node Slurm cluster (no systemd; needs
                    `apt-get install -y slurm-wlm munge`, as root): deploy/slurm/submit.sh with
                    N segments (default 4) of S seconds of test music (default 10), checks the
                    joined MP4, times it against one render; appends to docs/BENCHMARKS.md
                    (--keep: keep the temporary folder with the cluster's and jobs' logs)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The Vulkan loader complains on every start without it; tests and renders inherit it.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: no other thread exists yet, so nothing can read the environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let result = match args.first().map(String::as_str) {
        Some("doctor") => doctor::run().map(|ok| ok.then_some(()).ok_or("doctor found problems")),
        Some("device-check") => device_check::run(&workspace_root(), &args[1..]).map(Ok),
        Some("test") => test(args.iter().any(|a| a == "--no-lint")).map(Ok),
        Some("gen-demo") => demo::generate(&workspace_root()).map(Ok),
        Some("gallery") => gallery::run(&workspace_root()).map(Ok),
        Some("fuzz") => fuzz::run(&workspace_root(), &args[1..]).map(Ok),
        Some("bench") => bench::Options::parse(&args[1..])
            .and_then(|o| bench::run(&workspace_root(), &o))
            .map(Ok),
        Some("bench-avatar") => avatar_bench::Options::parse(&args[1..])
            .and_then(|o| avatar_bench::run(&workspace_root(), &o))
            .map(Ok),
        Some("bench-studio") => studio_bench::run(&workspace_root()).map(Ok),
        Some("fetch-mtcnn") => fetch_mtcnn(args.get(1).map(std::path::PathBuf::from)).map(Ok),
        Some("scale-test") => scale::Options::parse(&args[1..])
            .and_then(|o| scale::run(&workspace_root(), &o))
            .map(Ok),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(msg)) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask fetch-mtcnn [DIR]`.
fn fetch_mtcnn(dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(wav2lip::fetch::default_weights_dir);
    let files = wav2lip::fetch::mtcnn_weights(&dir)?;
    // Loading them is the real check (a truncated or foreign file fails here).
    wav2lip::mtcnn::MtcnnWeights::load(&dir)?;
    for f in files {
        eprintln!("{}", f.display());
    }
    eprintln!(
        "MTCNN weights ready in {} (facenet-pytorch 2.6.0, MIT licence)",
        dir.display()
    );
    Ok(())
}

/// A `cargo` command with the environment overrides applied.
fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args).current_dir(workspace_root());
    c
}

fn step(name: &str, mut cmd: Command) -> anyhow::Result<()> {
    eprintln!("==> {name}");
    let started = std::time::Instant::now();
    let status = cmd.status()?;
    eprintln!(
        "==> {name}: {} in {:.0} s",
        if status.success() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(status.success(), "{name} failed ({status})");
    Ok(())
}

/// Skips that may happen under CI=true, by the name the test gives `test_support::skip`.
const ALLOWED_SKIPS: &str = include_str!("../allowed-skips.txt");

/// Lists the skips the test run logged and, under CI, fails on any not on the allow-list.
fn report_skips(log: &std::path::Path, ci: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut skips: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\t')).collect();
    skips.sort_unstable();
    skips.dedup();
    let allowed: Vec<&str> = ALLOWED_SKIPS
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!("==> skipped tests: {}", skips.len());
    for (test, reason) in &skips {
        let mark = if allowed.contains(test) {
            "allowed"
        } else {
            "NOT ALLOWED under CI"
        };
        eprintln!("    {test}: {reason} [{mark}]");
    }
    let refused: Vec<&str> = skips
        .iter()
        .filter(|(t, _)| !allowed.contains(t))
        .map(|(t, _)| *t)
        .collect();
    anyhow::ensure!(
        !ci || refused.is_empty(),
        "CI=true and these tests skipped without being on xtask/allowed-skips.txt: {}",
        refused.join(", ")
    );
    Ok(())
}

fn test(no_lint: bool) -> anyhow::Result<()> {
    let ok = doctor::run()?;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if !ok {
        anyhow::ensure!(
            !ci,
            "prerequisites are missing and CI=true: fix what doctor printed"
        );
        eprintln!("warning: prerequisites are missing: tests that need them will be SKIPPED");
    }
    if !no_lint {
        step("rustfmt --check", cargo(&["fmt", "--all", "--", "--check"]))?;
        step(
            "clippy -D warnings",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    }
    // Every skip is logged here (tests call test_support::skip) and listed at the end.
    let log = workspace_root().join("target").join("test-skips.log");
    let _ = std::fs::remove_file(&log);
    let mut tests = cargo(&["test", "--workspace"]);
    tests.env("TEST_SKIP_LOG", &log);
    let result = step("cargo test --workspace", tests);
    report_skips(&log, ci)?;
    result?;
    eprintln!("==> all tests passed");
    Ok(())
}
