//! `cargo xtask fuzz`: bounded libFuzzer runs of every target in fuzz/.
//!
//! Each target starts from its committed seeds (fuzz/corpus/<target>), copied into a scratch
//! corpus under fuzz/target so new inputs never dirty the tree. A crash leaves its input in
//! fuzz/artifacts/<target>/ and fails the command.

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
    for target in TARGETS {
        let seeds = root.join("fuzz/corpus").join(target);
        let scratch = root.join("fuzz/target/corpus").join(target);
        std::fs::create_dir_all(&scratch)?;
        for entry in
            std::fs::read_dir(&seeds).with_context(|| format!("reading {}", seeds.display()))?
        {
            let entry = entry?;
            std::fs::copy(entry.path(), scratch.join(entry.file_name()))?;
        }
        eprintln!("==> fuzzing {target} for {seconds} s");
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
