//! `cargo xtask scale-test`: the split render of deploy/slurm, run for real on a throwaway
//! single-node Slurm cluster, against the same job rendered in one piece.
//!
//! The cluster needs no systemd and touches nothing outside one temporary folder: munged runs
//! with its key, socket, pid, seed and log files there, slurmctld and slurmd run in the
//! foreground as children of this process with a slurm.conf there (state, spool, logs, pid files;
//! `AuthInfo=socket=` points Slurm at that munged), and the client commands find it through
//! `SLURM_CONF`. A guard stops everything and removes the folder however the run ends (an error,
//! Ctrl-C, SIGTERM): it cancels the cluster's jobs, stops the daemons, kills any process left
//! that runs from the folder, then deletes it.
//!
//! Figures: the single render's wall time (one process, `renderer JOB`); the segmented wall time
//! from `deploy/slurm/submit.sh` to the join job's end as seen by polling `scontrol` every 0.2 s
//! (scheduling and process start-up included); each segment's own render time and the join's
//! own time, as the renderer reports them in the jobs' logs. The joined file is checked with
//! ffprobe (frame count, an audio stream) and compared with the single render (PSNR per frame:
//! an off-by-one seam would drop it to ~25 dB).

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

const FPS: f64 = 30.0;
/// The Debian packages that provide munged, slurmctld, slurmd and the client commands.
const INSTALL: &str = "apt-get install -y slurm-wlm munge";
/// The lowest per-frame PSNR (dB) accepted between the joined and the single render: the same
/// frames encoded with other keyframes measure ~46 dB and more, a one-frame shift ~25 dB.
const MIN_PSNR_DB: f64 = 30.0;

/// Settings of one scale-test.
#[derive(Debug, Clone)]
pub struct Options {
    pub segments: u32,
    pub seconds: f64,
    /// Keep the temporary folder (cluster logs, segments, outputs) for inspection.
    pub keep: bool,
    /// Output size (the issue's benchmark uses 1920x1080).
    pub width: u32,
    pub height: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            segments: 4,
            seconds: 10.0,
            keep: false,
            width: 640,
            height: 360,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match a.as_str() {
                "--segments" => o.segments = value("--segments")?.parse()?,
                "--seconds" => o.seconds = value("--seconds")?.parse()?,
                "--keep" => o.keep = true,
                "--size" => {
                    let v = value("--size")?;
                    let (w, h) = v.split_once('x').with_context(|| {
                        format!("--size {v}: write WIDTHxHEIGHT, e.g. 1920x1080")
                    })?;
                    o.width = w.parse()?;
                    o.height = h.parse()?;
                }
                other => bail!("unknown scale-test option {other} (see cargo xtask help)"),
            }
        }
        ensure!(
            (1..=256).contains(&o.segments),
            "--segments must be 1 to 256"
        );
        ensure!(
            o.seconds.is_finite() && o.seconds > 0.0 && o.seconds <= 3600.0,
            "--seconds must be more than 0 and at most 3600"
        );
        Ok(o)
    }
}

/// Set by SIGINT/SIGTERM: loops stop and the guard cleans up.
fn interrupted(flag: &AtomicBool) -> anyhow::Result<()> {
    ensure!(!flag.load(Ordering::Relaxed), "interrupted");
    Ok(())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .map(|u| u == "0")
        })
        .unwrap_or(false)
}

/// `name` on PATH or in the sbin folders (daemons live there, often outside a user's PATH).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Slurm and MUNGE programs the test runs.
#[derive(Debug)]
struct Tools {
    munged: PathBuf,
    mungekey: Option<PathBuf>,
    slurmctld: PathBuf,
    slurmd: PathBuf,
    bin: PathBuf,
}

const NEEDED: [&str; 8] = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
];

/// Finds the programs; when some are missing prints the fix and fails, except under CI=true as
/// root, where it installs them (Debian/Ubuntu).
fn tools() -> anyhow::Result<Tools> {
    let missing = || -> Vec<&str> {
        NEEDED
            .into_iter()
            .filter(|n| find_program(n).is_none())
            .collect()
    };
    let absent = missing();
    if !absent.is_empty() {
        eprintln!(
            "scale-test: missing {}; install Slurm and MUNGE (Debian/Ubuntu, as root):\n\n    {INSTALL}\n",
            absent.join(", ")
        );
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        ensure!(
            ci && is_root() && find_program("apt-get").is_some(),
            "Slurm is not installed: run the command above (under CI=true as root, scale-test \
             runs it itself)"
        );
        crate::step("apt-get update", {
            let mut c = Command::new("apt-get");
            c.args(["update", "-qq"]).stdout(std::io::stderr());
            c
        })?;
        crate::step(
            "apt-get install -y --no-install-recommends slurm-wlm munge",
            {
                let mut c = Command::new("apt-get");
                c.args([
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "slurm-wlm",
                    "munge",
                ])
                .env("DEBIAN_FRONTEND", "noninteractive")
                // stdout carries the report only.
                .stdout(std::io::stderr());
                c
            },
        )?;
        let still = missing();
        ensure!(
            still.is_empty(),
            "still missing after the install: {}",
            still.join(", ")
        );
    }
    let found = |n: &str| find_program(n).with_context(|| format!("{n} not found"));
    let sbatch = found("sbatch")?;
    Ok(Tools {
        munged: found("munged")?,
        mungekey: find_program("mungekey"),
        slurmctld: found("slurmctld")?,
        slurmd: found("slurmd")?,
        bin: sbatch.parent().map(Path::to_path_buf).unwrap_or_default(),
    })
}

/// The machine's short host name (`hostname -s`).
fn short_hostname() -> String {
    let full = Command::new("hostname")
        .arg("-s")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".into());
    full.split('.').next().unwrap_or("localhost").to_owned()
}

/// Two consecutive free TCP ports (slurmctld, slurmd) at or above 46817, the starting point
/// spread by the process id so that concurrent runs on a shared machine do not race for one.
fn free_port_pair() -> anyhow::Result<u16> {
    let free = |p: u16| std::net::TcpListener::bind(("0.0.0.0", p)).is_ok();
    let start = 46817 + (std::process::id() % 400) as u16 * 2;
    (0..800u16)
        .map(|i| 46817 + (start - 46817 + 2 * i) % 1600)
        .find(|&p| free(p) && free(p + 1))
        .context("no free TCP port pair in 46817..48417 for slurmctld and slurmd")
}

/// The throwaway cluster. Dropping it cancels its jobs, stops its daemons, kills whatever still
/// runs from its folder and removes the folder (unless kept).
#[derive(Debug)]
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    bin: PathBuf,
    /// (name, child) in start order.
    daemons: Vec<(&'static str, Child)>,
    /// Job ids to cancel if still queued at the end.
    jobs: Vec<String>,
    keep: bool,
}

impl Cluster {
    fn new(bin: &Path, keep: bool) -> anyhow::Result<Self> {
        // munged's socket path must fit a sockaddr_un (108 bytes): prefer a short folder.
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > 60 {
            base = PathBuf::from("/tmp");
        }
        let dir = base.join(format!("scale-test-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self {
            conf: dir.join("slurm.conf"),
            dir,
            bin: bin.to_owned(),
            daemons: Vec::new(),
            jobs: Vec::new(),
            keep,
        })
    }

    /// A Slurm client command talking to this cluster.
    fn client(&self, name: &str) -> Command {
        let mut c = Command::new(find_program(name).unwrap_or_else(|| self.bin.join(name)));
        c.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        c
    }

    fn output(&self, name: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .client(name)
            .args(args)
            .output()
            .with_context(|| format!("cannot run {name}"))?;
        ensure!(
            out.status.success(),
            "{name} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn spawn(&mut self, name: &'static str, mut cmd: Command) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join(format!("{name}.stderr")))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Own process group: Ctrl-C reaches only this process, which then stops the cluster
            // in order (jobs first) instead of the terminal killing the daemons under them.
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.daemons.push((name, child));
        Ok(())
    }

    /// Fails when a daemon already exited (with its last log lines).
    fn check_daemons(&mut self) -> anyhow::Result<()> {
        for (name, child) in &mut self.daemons {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited ({status}):\n{}",
                    tail(&self.dir.join(format!("{name}.stderr")), 15)
                );
            }
        }
        Ok(())
    }

    fn start(&mut self, tools: &Tools, stop: &AtomicBool) -> anyhow::Result<()> {
        let host = short_hostname();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let port = free_port_pair()?;
        let d = self.dir.display().to_string();
        for sub in ["state", "spool"] {
            std::fs::create_dir_all(self.dir.join(sub))?;
        }

        // MUNGE: a fresh key, and every file of the daemon in the folder.
        let key = self.dir.join("munge.key");
        let made = tools.mungekey.as_ref().is_some_and(|mk| {
            Command::new(mk)
                .args(["--create", "--bits", "1024", "--keyfile"])
                .arg(&key)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !made {
            // What `dd if=/dev/urandom bs=1 count=1024` would write; owner-only, as munged wants.
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut bytes = vec![0u8; 1024];
            std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key)?
                .write_all(&bytes)?;
        }
        let socket = self.dir.join("munge.sock");
        let help = Command::new(&tools.munged)
            .arg("--help")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let mut munged = Command::new(&tools.munged);
        munged.args(["--foreground", "--force"]);
        munged.arg(format!("--socket={}", socket.display()));
        for (flag, file) in [
            ("--key-file", "munge.key"),
            ("--pid-file", "munged.pid"),
            ("--log-file", "munged.log"),
            ("--seed-file", "munged.seed"),
        ] {
            if help.contains(flag) {
                munged.arg(format!("{flag}={d}/{file}"));
            } else if flag == "--key-file" {
                // An old munged reads only /etc/munge/munge.key: use (or make) that one.
                let system = Path::new("/etc/munge/munge.key");
                if !system.exists() {
                    std::fs::create_dir_all("/etc/munge")?;
                    std::fs::copy(&key, system).context("cannot write /etc/munge/munge.key")?;
                }
            }
        }
        self.spawn("munged", munged)?;
        wait_for(stop, Duration::from_secs(20), "munged's socket", || {
            self.check_daemons()?;
            Ok(socket.exists())
        })?;

        let conf = format!(
            "# Written by cargo xtask scale-test: a throwaway single-node cluster, no systemd.\n\
             ClusterName=scaletest\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             SlurmctldPort={port}\n\
             SlurmdPort={}\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={d}/munge.sock\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             MpiDefault=none\n\
             ReturnToService=2\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             JobCompType=jobcomp/none\n\
             # A join whose array failed is cancelled instead of pending forever.\n\
             DependencyParameters=kill_invalid_depend\n\
             # Finished jobs stay visible to scontrol (no accounting database here).\n\
             MinJobAge=3600\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/slurmctld.log\n\
             SlurmdLogFile={d}/slurmd.log\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=100 State=UNKNOWN\n\
             PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            port + 1
        );
        std::fs::write(&self.conf, conf)?;
        let mut ctld = Command::new(&tools.slurmctld);
        ctld.arg("-D").arg("-f").arg(&self.conf);
        self.spawn("slurmctld", ctld)?;
        let mut slurmd = Command::new(&tools.slurmd);
        slurmd
            .arg("-D")
            .arg("-f")
            .arg(&self.conf)
            .args(["-N", &host]);
        self.spawn("slurmd", slurmd)?;

        // A slow shared machine may take a while; the node must come up idle.
        let mut last = String::new();
        wait_for(
            stop,
            Duration::from_secs(120),
            "the node to be idle",
            || {
                self.check_daemons()?;
                last = self
                    .output("sinfo", &["-h", "-N", "-o", "%T"])
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                Ok(last == "idle")
            },
        )
        .with_context(|| format!("sinfo says {last:?}"))?;
        Ok(())
    }

    /// The last lines of the cluster's logs and of the jobs' logs, for a failure report.
    fn dump_logs(&self, job_logs: &Path) {
        let mut files = vec![
            self.dir.join("munged.log"),
            self.dir.join("slurmctld.log"),
            self.dir.join("slurmd.log"),
        ];
        if let Ok(entries) = std::fs::read_dir(job_logs) {
            let mut logs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            logs.sort();
            files.extend(logs);
        }
        for f in files.iter().filter(|f| f.exists()) {
            eprintln!("---- {} (end)\n{}", f.display(), tail(f, 12));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let running = |c: &mut Child| matches!(c.try_wait(), Ok(None));
        // 1. Cancel the jobs while the controller still runs, and let slurmd end them.
        let ctld_up = self
            .daemons
            .iter_mut()
            .any(|(n, c)| *n == "slurmctld" && running(c));
        if ctld_up && !self.jobs.is_empty() {
            let _ = self
                .client("scancel")
                .args(&self.jobs)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                let queued = self
                    .output("squeue", &["-h", "-o", "%i"])
                    .map(|s| s.trim().is_empty());
                if queued.unwrap_or(true) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        // 2. Stop the daemons, last started first: SIGTERM, then SIGKILL after 10 s.
        for (name, child) in self.daemons.iter_mut().rev() {
            if !running(child) {
                continue;
            }
            signal(child.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while running(child) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if running(child) {
                eprintln!("scale-test: {name} ignored SIGTERM; killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        // 3. Anything still running from the folder (a job's script, renderer or ffmpeg).
        for pid in processes_using(&self.dir) {
            signal(pid, libc::SIGKILL);
        }
        if self.keep {
            eprintln!("scale-test: kept {}", self.dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("scale-test: cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// Sends `sig` to process `pid` (nothing happens when it is already gone). No `kill` program
/// needed: minimal Debian images lack procps.
fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) takes two integers and reads or writes no memory of this process.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Ids of the processes (not this one) whose command line, working folder or executable lies
/// under `dir`.
fn processes_using(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            let under = |link: &str| {
                std::fs::read_link(format!("/proc/{pid}/{link}")).is_ok_and(|p| p.starts_with(dir))
            };
            cmdline.contains(&needle) || under("cwd") || under("exe")
        })
        .collect()
}

/// Polls `ready` every 200 ms until it says yes, the time is up, or a signal arrived.
fn wait_for(
    stop: &AtomicBool,
    limit: Duration,
    what: &str,
    mut ready: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        interrupted(stop)?;
        if ready()? {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "timed out after {} s waiting for {what}",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `n` lines of a text file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The scene: background, spectrogram, bars and particles at 640x360, x264 ultrafast.
fn write_job(dir: &Path, audio: &Path, (width, height): (u32, u32)) -> anyhow::Result<PathBuf> {
    let job = format!(
        r##"# Written by cargo xtask scale-test.
audio = "{audio}"
output = "single.mp4"

[video]
width = {width}
height = {height}
fps = {FPS}
encoder = "x264"
preset = "ultrafast"

[[layer]]
kind = "background"
color = "#0b1020"
color2 = "#3a1050"

[[layer]]
kind = "spectrogram"
palette = "magma"
seconds = 4
rect = [0.0, 0.0, 1.0, 0.5]

[[layer]]
kind = "bars"
count = 48
color = "#33ccff"
color2 = "#ff5fd2"
rect = [0.0, 0.5, 1.0, 0.5]

[[layer]]
kind = "particles"
burst = 60
"##,
        audio = audio.display()
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, job)?;
    Ok(path)
}

/// What ffprobe says about a rendered MP4.
#[derive(Debug)]
struct Probe {
    video_frames: u64,
    audio_seconds: Option<f64>,
}

fn probe(path: &Path) -> anyhow::Result<Probe> {
    let ffprobe = std::env::var("FFPROBE").unwrap_or_else(|_| "ffprobe".into());
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,nb_frames,duration",
            "-of",
            "compact=p=0",
        ])
        .arg(path)
        .output()
        .context("cannot run ffprobe")?;
    ensure!(
        out.status.success(),
        "ffprobe {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut p = Probe {
        video_frames: 0,
        audio_seconds: None,
    };
    // One line per stream: codec_type=video|duration=10.000000|nb_frames=300
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let field = |k: &str| {
            line.split('|')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .map(str::trim)
        };
        match field("codec_type") {
            Some("video") => {
                p.video_frames = field("nb_frames").and_then(|v| v.parse().ok()).unwrap_or(0)
            }
            Some("audio") => p.audio_seconds = field("duration").and_then(|v| v.parse().ok()),
            _ => {}
        }
    }
    Ok(p)
}

/// (average, minimum) per-frame PSNR of `b` against `a`, dB (luma and chroma together).
fn psnr(a: &Path, b: &Path) -> anyhow::Result<(f64, f64)> {
    let out = Command::new(media::ffmpeg_program())
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(a)
        .arg("-i")
        .arg(b)
        .args(["-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"])
        .output()
        .context("cannot run ffmpeg")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "ffmpeg psnr failed: {err}");
    let line = err
        .lines()
        .find(|l| l.contains("PSNR y:"))
        .context("ffmpeg printed no PSNR")?;
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::INFINITY) // "inf": identical pictures
    };
    Ok((field("average:"), field("min:")))
}

/// The seconds in the renderer's summary line `... in 1.36 s, ...` / `... in 1.18 s` of a log.
fn reported_seconds(log: &Path, prefix: &str) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with(prefix))?;
    let after = line.split(" in ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// State of a job (or of every task of an array) from `scontrol show job -o ID`.
fn job_states(cluster: &Cluster, id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = cluster.output("scontrol", &["show", "job", "-o", id])?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .unwrap_or("?")
                    .to_owned()
            };
            let state = field("JobState=");
            let task = field("ArrayTaskId=");
            (task, state)
        })
        .collect())
}

fn finished(state: &str) -> bool {
    !matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "SUSPENDED"
            | "REQUEUED"
            | "RESIZING"
    )
}

/// The figures of one run.
#[derive(Debug)]
struct Figures {
    single_wall: f64,
    single_cpu: f64,
    segmented_wall: f64,
    array_wall: f64,
    segment_seconds: Vec<f64>,
    join_seconds: f64,
    join_job_wall: f64,
    frames: u64,
    psnr: (f64, f64),
}

pub fn run(root: &Path, o: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    // First what can fail fast: root (slurmd launches the jobs), Slurm and MUNGE installed (or
    // installed here under CI).
    ensure!(
        is_root(),
        "scale-test starts slurmctld and slurmd (SlurmUser=root): run it as root, e.g. in a \
         throwaway container or VM"
    );
    let tools = tools()?;
    crate::step(
        "cargo build --release -p renderer",
        crate::cargo(&["build", "--release", "-p", "renderer"]),
    )?;
    let renderer = root.join("target/release/renderer");
    let submit = root.join("deploy/slurm/submit.sh");
    ensure!(submit.is_file(), "{} is missing", submit.display());
    media::probe_ffmpeg().context("ffmpeg with libx264 is needed (cargo xtask doctor)")?;
    interrupted(&stop)?;

    let mut cluster = Cluster::new(&tools.bin, o.keep)?;
    let work = cluster.dir.join("work");
    let result = scale_test(&mut cluster, &tools, &renderer, &submit, &work, o, &stop);
    if result.is_err() {
        cluster.dump_logs(&work.join("segments/logs"));
    }
    drop(cluster);
    let figures = result?;
    report(root, o, &figures, started.elapsed().as_secs_f64())
}

fn scale_test(
    cluster: &mut Cluster,
    tools: &Tools,
    renderer: &Path,
    submit: &Path,
    work: &Path,
    o: &Options,
    stop: &AtomicBool,
) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(work)?;
    let audio = work.join("music.flac");
    crate::bench::make_audio(&audio, o.seconds)?;
    let job = write_job(work, &audio, (o.width, o.height))?;

    // The reference: the whole job in one process, on an idle machine (no cluster yet).
    eprintln!("==> single render ({} s of audio)", o.seconds);
    let single = work.join("single.mp4");
    let mut cmd = Command::new(renderer);
    cmd.arg(&job).arg("--quiet");
    let s = crate::bench::measure(cmd, "single render")?;
    eprintln!("    {:.2} s wall, {:.2} s CPU", s.wall, s.cpu);
    interrupted(stop)?;

    eprintln!(
        "==> starting a single-node Slurm cluster in {}",
        cluster.dir.display()
    );
    cluster.start(tools, stop)?;

    eprintln!("==> deploy/slurm/submit.sh ({} segments)", o.segments);
    let segdir = work.join("segments");
    let joined = work.join("joined.mp4");
    let t0 = Instant::now();
    let out = Command::new(submit)
        .arg(&job)
        .arg(o.segments.to_string())
        .arg(&joined)
        .arg(&segdir)
        .current_dir(work)
        .env("SLURM_CONF", &cluster.conf)
        .env("RENDERER", renderer)
        .env("PATH", path_with(&tools.bin))
        .env_remove("SBATCH_ARGS")
        .stdin(Stdio::null())
        .output()
        .context("cannot run deploy/slurm/submit.sh")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "submit.sh failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let id = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::to_owned)
            .with_context(|| format!("submit.sh printed no {key}ID:\n{stdout}"))
    };
    let array_id = id("array_job_id=")?;
    let join_id = id("join_job_id=")?;
    cluster.jobs = vec![array_id.clone(), join_id.clone()];
    eprintln!("    array job {array_id}, join job {join_id}");

    // Generous for a slow shared machine: start-up of every task plus a slow render.
    let limit = Duration::from_secs_f64(300.0 + 20.0 * o.seconds + 10.0 * f64::from(o.segments));
    let mut array_wall = None;
    let mut last = String::new();
    wait_for(stop, limit, "the array and join jobs", || {
        cluster.check_daemons()?;
        let tasks = job_states(cluster, &array_id)?;
        if array_wall.is_none()
            && tasks.len() == o.segments as usize
            && tasks.iter().all(|(_, s)| finished(s))
        {
            array_wall = Some(t0.elapsed().as_secs_f64());
        }
        let join = job_states(cluster, &join_id)?;
        let now = format!("{tasks:?} join {join:?}");
        if now != last {
            eprintln!("    {now}");
            last = now;
        }
        Ok(join.iter().all(|(_, s)| finished(s)))
    })?;
    let segmented_wall = t0.elapsed().as_secs_f64();
    let failed: Vec<String> = job_states(cluster, &array_id)?
        .into_iter()
        .filter(|(_, s)| s != "COMPLETED")
        .map(|(t, s)| format!("task {t}: {s}"))
        .collect();
    ensure!(
        failed.is_empty(),
        "array tasks failed: {}",
        failed.join(", ")
    );
    let join_state = job_states(cluster, &join_id)?;
    ensure!(
        join_state.iter().all(|(_, s)| s == "COMPLETED"),
        "the join job ended {join_state:?}"
    );
    cluster.jobs.clear();
    let array_wall = array_wall.unwrap_or(segmented_wall);

    // The renderer's own times, from the jobs' logs.
    let logs = segdir.join("logs");
    let mut segment_seconds = Vec::new();
    let mut join_seconds = None;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&logs)
        .with_context(|| format!("no job logs in {}", logs.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for log in &entries {
        let name = log.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_some_and(|n| n.starts_with("join-")) {
            join_seconds = reported_seconds(log, "joined ");
        } else if let Some(s) = reported_seconds(log, "rendered ") {
            segment_seconds.push(s);
        }
    }
    ensure!(
        segment_seconds.len() == o.segments as usize,
        "found {} segment summaries in {}, expected {}",
        segment_seconds.len(),
        logs.display(),
        o.segments
    );
    let join_seconds = join_seconds.context("the join log has no `joined ...` summary")?;

    // The joined file: every frame, an audio track, and the same pictures as the single render.
    let p = probe(&joined)?;
    let reference = probe(&single)?;
    let expected = o.seconds * FPS;
    ensure!(
        p.video_frames == reference.video_frames && (p.video_frames as f64 - expected).abs() <= 1.0,
        "joined video has {} frames; the single render {}, expected {expected}",
        p.video_frames,
        reference.video_frames
    );
    let audio_s = p
        .audio_seconds
        .context("the joined file has no audio stream")?;
    ensure!(
        (audio_s - o.seconds).abs() < 0.1,
        "joined audio lasts {audio_s} s, expected {} s",
        o.seconds
    );
    let psnr = psnr(&single, &joined)?;
    ensure!(
        psnr.1 >= MIN_PSNR_DB,
        "joined frames differ from the single render (PSNR min {:.1} dB, average {:.1} dB): \
         a segment boundary is off",
        psnr.1,
        psnr.0
    );
    Ok(Figures {
        single_wall: s.wall,
        single_cpu: s.cpu,
        segmented_wall,
        array_wall,
        segment_seconds,
        join_seconds,
        join_job_wall: segmented_wall - array_wall,
        frames: p.video_frames,
        psnr,
    })
}

/// PATH with the Slurm client folder first (submit.sh calls `sbatch`).
fn path_with(bin: &Path) -> std::ffi::OsString {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(bin.to_owned()).chain(std::env::split_paths(&old));
    std::env::join_paths(dirs).unwrap_or(old)
}

fn report(root: &Path, o: &Options, f: &Figures, total: f64) -> anyhow::Result<()> {
    let date = crate::bench::first_line("date", "-u");
    let (cpu, cores, mem_gb) = crate::bench::machine();
    let adapter = gpu::list_adapters()
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "none".into());
    let seg_min = f
        .segment_seconds
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let seg_max = f.segment_seconds.iter().copied().fold(0.0, f64::max);
    let seg_sum: f64 = f.segment_seconds.iter().sum();
    let n = o.segments;
    let mut md = String::new();
    writeln!(md, "## Scale-out run of {date}\n")?;
    writeln!(
        md,
        "`cargo xtask scale-test --segments {n} --seconds {} --size {}x{}`: the job rendered in one piece, \
         then split into {n} segments by a Slurm job array and joined by a dependent job \
         (deploy/slurm/submit.sh) on a single-node cluster on the same machine ({cores} CPUs \
         for the tasks, so at most {cores} segments at once). Machine: {cpu}, {cores} cores, \
         {mem_gb:.0} GiB RAM. GPU adapter: {adapter}. Job: {}x{}@30, background, \
         spectrogram, bars, particles, x264 ultrafast; {} frames. Joined output checked with \
         ffprobe (frames, audio) and against the single render: PSNR average {:.1} dB, \
         lowest frame {:.1} dB.\n",
        o.seconds, o.width, o.height, o.width, o.height, f.frames, f.psnr.0, f.psnr.1
    )?;
    writeln!(md, "| what | seconds |")?;
    writeln!(md, "|---|---|")?;
    writeln!(
        md,
        "| single render, one process (wall; {:.1} s CPU) | {:.2} |",
        f.single_cpu, f.single_wall
    )?;
    writeln!(
        md,
        "| segmented: submit to joined file ({n} array tasks + join, wall) | {:.2} |",
        f.segmented_wall
    )?;
    writeln!(
        md,
        "| of which: submit to the last segment done | {:.2} |",
        f.array_wall
    )?;
    writeln!(
        md,
        "| of which: last segment done to joined file (join job, scheduling included) | {:.2} |",
        f.join_job_wall
    )?;
    writeln!(
        md,
        "| each segment's render, as the renderer reports it: min / max / sum | {seg_min:.2} / {seg_max:.2} / {seg_sum:.2} |"
    )?;
    writeln!(
        md,
        "| join step alone (`renderer join`: checks, concat, audio mux) | {:.2} |",
        f.join_seconds
    )?;
    writeln!(
        md,
        "| segmented / single (wall) | {:.2}x |\n",
        f.segmented_wall / f.single_wall
    )?;
    writeln!(
        md,
        "Every task starts a GPU device, warms up the analysis and starts ffmpeg, and the join \
         copies the video and encodes the audio once: on one machine that is pure overhead, \
         partly offset when parallel segments keep idle cores busy; the split pays off when the \
         tasks run on separate GPUs or nodes. The whole scale-test took {total:.0} s.\n"
    )?;
    crate::bench::prepend_to_benchmarks(root, &md)?;
    println!("{md}");
    println!("wrote docs/BENCHMARKS.md");
    Ok(())
}
