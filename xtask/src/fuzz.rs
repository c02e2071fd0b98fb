//! `cargo xtask fuzz`: bounded libFuzzer runs of every target in fuzz/.
//!
//! Each target starts from its committed seeds (fuzz/corpus/<target>), copied into a scratch
//! corpus under fuzz/target so new inputs never dirty the tree (a seeded run empties it first;
//! `--seed 0` keeps what earlier runs found). A crash leaves its input in
//! fuzz/artifacts/<target>/ and fails the command.
//!
//! libFuzzer's mutations follow a fixed seed (`--seed`, default 1), which keeps runs close to
//! one another; they are not exactly repeatable (which inputs join the corpus depends on the
//! coverage each one reaches, and a CI clone's seeded run has found an input a local one with
//! the same seed did not). `--seed 0` lets libFuzzer pick one (exploration).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};

const TARGETS: &[&str] = &[
    "job_parser",
    "analysis",
    "checkpoint",
    "annexb",
    "audio_containers",
];

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut seconds = 60u64;
    let mut seed = 1u64;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds takes a whole number")?
            }
            "--seed" => {
                seed = it
                    .next()
                    .context("--seed needs a value")?
                    .parse()
                    .context("--seed takes a whole number (0: random)")?
            }
            "--target" => only = Some(it.next().context("--target needs a name")?.clone()),
            other => anyhow::bail!("unknown fuzz option {other}"),
        }
    }
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    ensure!(
        have,
        "cargo-fuzz is not installed: run `cargo install cargo-fuzz --locked` (it needs a C++ \
         compiler, e.g. `apt-get install g++`)"
    );
    if let Some(t) = &only {
        ensure!(
            TARGETS.contains(&t.as_str()),
            "unknown fuzz target {t}: the targets are {}",
            TARGETS.join(", ")
        );
    }
    for target in TARGETS
        .iter()
        .filter(|t| only.as_deref().is_none_or(|o| o == **t))
    {
        let seeds = root.join("fuzz/corpus").join(target);
        let scratch = root.join("fuzz/target/corpus").join(target);
        if seed != 0 && scratch.exists() {
            // A seeded run starts from the committed seeds alone, as CI's fresh clone does.
            std::fs::remove_dir_all(&scratch)
                .with_context(|| format!("emptying {}", scratch.display()))?;
        }
        std::fs::create_dir_all(&scratch)?;
        for entry in
            std::fs::read_dir(&seeds).with_context(|| format!("reading {}", seeds.display()))?
        {
            let entry = entry?;
            std::fs::copy(entry.path(), scratch.join(entry.file_name()))?;
        }
        eprintln!("==> fuzzing {target} for {seconds} s (seed {seed})");
        let status = Command::new("cargo")
            .current_dir(root)
            // libFuzzer's instrumentation flags are nightly-only; this lets the one stable
            // toolchain accept them for the fuzz build (the main build never sees them).
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--sanitizer", "none", target])
            .arg(&scratch)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                &format!("-seed={seed}"),
                "-rss_limit_mb=4096",
                "-max_len=65536",
                "-print_final_stats=1",
            ])
            .status()
            .context("running cargo fuzz")?;
        ensure!(
            status.success(),
            "fuzz target {target} failed: the crashing input is in fuzz/artifacts/{target}/"
        );
    }
    Ok(())
}
