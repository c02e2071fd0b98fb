//! A real browser for tests: headless Chromium (Debian's `chromium`, installed by `.ci/run`)
//! opens a page served from a throwaway HTTP server on 127.0.0.1; the page's script reports
//! what it saw by requesting `/report?...`, which the server hands back to the test.
//!
//! One origin for the page and its files, so canvases that draw a served video stay readable
//! (`getImageData`), which `file://` pages do not allow.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How every test starts Chromium: headless, without the sandbox (CI runs as root), GPU or
/// /dev/shm, muted, media allowed to play without a gesture.
pub(crate) const HEADLESS_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
];

/// The Chromium binary: `$CHROMIUM` when set, else the first of the usual names that runs.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(PathBuf::from)
}

/// [`chromium`], or a visible skip of `test` (a failure under CI) when there is none.
pub fn require_chromium(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        crate::skip_unless_ci(
            test,
            "headless Chromium not found (apt-get install chromium, or set $CHROMIUM)",
        );
    }
    found
}

/// Serves `page` at `/` and each of `files` (URL path -> file) from 127.0.0.1, opens the page
/// in headless Chromium and returns the query of the first `/report?QUERY` request the page
/// makes, decoded into pairs; an error when none comes within `timeout` (with Chromium's last
/// output lines) or the browser cannot start.
pub fn open_and_wait_for_report(
    chromium: &std::path::Path,
    page: &str,
    files: &[(&str, PathBuf)],
    timeout: Duration,
) -> Result<HashMap<String, String>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (tx, rx) = mpsc::channel::<String>();
    let mut routes: HashMap<String, Vec<u8>> = HashMap::new();
    routes.insert("/".into(), page.as_bytes().to_vec());
    for (path, file) in files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        routes.insert((*path).to_owned(), bytes);
    }
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (routes, tx) = (routes.clone(), tx.clone());
            std::thread::spawn(move || {
                let _ = serve(stream, &routes, &tx);
            });
        }
    });
    let profile = std::env::temp_dir().join(format!(
        "test-support-chromium-{}-{port}",
        std::process::id()
    ));
    let log = profile.with_extension("log");
    let mut child = Command::new(chromium)
        .args(HEADLESS_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(&log)
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    let result = rx.recv_timeout(timeout);
    stop(&mut child);
    let tail = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(&log);
    match result {
        Ok(query) => Ok(query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()),
        Err(_) => {
            let last: Vec<&str> = tail.lines().rev().take(12).collect();
            Err(format!(
                "the page reported nothing within {timeout:?}; Chromium's last lines:\n{}",
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Answers one request (connections are not kept alive).
fn serve(
    mut stream: TcpStream,
    routes: &HashMap<String, Vec<u8>>,
    report: &mpsc::Sender<String>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Drain the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/report" {
        let _ = report.send(query.to_owned());
        return respond(&mut stream, "204 No Content", "text/plain", &[]);
    }
    match routes.get(path) {
        Some(body) => {
            let kind = match path.rsplit('.').next() {
                Some("webm") => "video/webm",
                Some("mp4") => "video/mp4",
                Some("png") => "image/png",
                _ => "text/html; charset=utf-8",
            };
            respond(&mut stream, "200 OK", kind, body)
        }
        None => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: \
         close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}
