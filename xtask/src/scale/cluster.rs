//! The throwaway single-node Slurm cluster of `cargo xtask scale-test`: finding the tools,
//! starting munged, slurmctld and slurmd in one temporary folder, running client commands
//! against it, reading job states, and the guard that stops everything and removes the folder
//! however the run ends.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::INSTALL;

pub(super) fn interrupted(flag: &AtomicBool) -> anyhow::Result<()> {
    ensure!(!flag.load(Ordering::Relaxed), "interrupted");
    Ok(())
}

pub(super) fn is_root() -> bool {
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
pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Slurm and MUNGE programs the test runs.
#[derive(Debug)]
pub(super) struct Tools {
    pub(super) munged: PathBuf,
    pub(super) mungekey: Option<PathBuf>,
    pub(super) slurmctld: PathBuf,
    pub(super) slurmd: PathBuf,
    pub(super) bin: PathBuf,
}

pub(super) const NEEDED: [&str; 8] = [
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
pub(super) fn tools() -> anyhow::Result<Tools> {
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
pub(super) fn short_hostname() -> String {
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
pub(super) fn free_port_pair() -> anyhow::Result<u16> {
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
pub(super) struct Cluster {
    pub(super) dir: PathBuf,
    pub(super) conf: PathBuf,
    pub(super) bin: PathBuf,
    /// (name, child) in start order.
    pub(super) daemons: Vec<(&'static str, Child)>,
    /// Job ids to cancel if still queued at the end.
    pub(super) jobs: Vec<String>,
    pub(super) keep: bool,
}

impl Cluster {
    pub(super) fn new(bin: &Path, keep: bool) -> anyhow::Result<Self> {
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
    pub(super) fn client(&self, name: &str) -> Command {
        let mut c = Command::new(find_program(name).unwrap_or_else(|| self.bin.join(name)));
        c.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        c
    }

    pub(super) fn output(&self, name: &str, args: &[&str]) -> anyhow::Result<String> {
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

    pub(super) fn spawn(&mut self, name: &'static str, mut cmd: Command) -> anyhow::Result<()> {
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
    pub(super) fn check_daemons(&mut self) -> anyhow::Result<()> {
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

    pub(super) fn start(&mut self, tools: &Tools, stop: &AtomicBool) -> anyhow::Result<()> {
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
    pub(super) fn dump_logs(&self, job_logs: &Path) {
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
pub(super) fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) takes two integers and reads or writes no memory of this process.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Ids of the processes (not this one) whose command line, working folder or executable lies
/// under `dir`.
pub(super) fn processes_using(dir: &Path) -> Vec<u32> {
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
pub(super) fn wait_for(
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
pub(super) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// State of a job (or of every task of an array) from `scontrol show job -o ID`.
pub(super) fn job_states(cluster: &Cluster, id: &str) -> anyhow::Result<Vec<(String, String)>> {
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

pub(super) fn finished(state: &str) -> bool {
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
