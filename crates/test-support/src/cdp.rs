//! A page in headless Chromium driven over the Chrome DevTools Protocol: evaluate JavaScript
//! (promises awaited, results returned as JSON), wait for a condition, take a screenshot.
//!
//! [`Page::open`] starts Chromium with the same flags as [`crate::browser`] plus
//! `--remote-debugging-port=0`, reads the port Chromium picked from the `DevToolsActivePort` file
//! in its throwaway profile, finds the page target in `GET /json/list` and connects to its
//! WebSocket. Commands are sent one at a time; events are ignored. Every read from the socket
//! gives up after [`REPLY_TIMEOUT`], so a hung browser fails the test instead of hanging it.
//!
//! ```no_run
//! # fn main() -> Result<(), String> {
//! use std::time::Duration;
//! use test_support::cdp::Page;
//!
//! let Some(chromium) = test_support::browser::require_chromium("my_test") else {
//!     return Ok(());
//! };
//! let mut page = Page::open(&chromium, "data:text/html,<p>hi</p>", (640, 480))?;
//! page.wait_for("document.readyState === 'complete'", Duration::from_secs(20), "the page")?;
//! assert_eq!(page.eval("1 + 2")?, serde_json::json!(3));
//! page.screenshot(std::path::Path::new("target/page.png"))?;
//! # Ok(())
//! # }
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// How long [`Page::open`] waits for Chromium to publish its DevTools port and page target.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one command waits for its reply before the browser is taken as hung.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// How often [`Page::wait_for`] evaluates its condition.
const POLL: Duration = Duration::from_millis(50);

/// The largest DevTools message accepted (a screenshot arrives as one base64 string).
const MAX_MESSAGE: usize = 512 << 20;

/// A page in a headless Chromium of its own, driven over the DevTools Protocol. Dropping it
/// kills the browser and removes its profile.
#[derive(Debug)]
pub struct Page {
    /// The WebSocket to the page target (declared first: closed before the browser is killed).
    socket: WebSocket<TcpStream>,
    /// The id of the next command.
    next_id: u64,
    /// The browser process, its profile folder and its log.
    browser: Browser,
}

impl Page {
    /// Starts headless Chromium (`chromium`, e.g. from [`crate::browser::require_chromium`])
    /// with a `window` of (width, height) pixels, opening `url`, and connects to the page over
    /// the DevTools Protocol. An error, with Chromium's last output lines where they help, when
    /// the browser cannot start or publishes no page within [`STARTUP_TIMEOUT`].
    pub fn open(chromium: &Path, url: &str, window: (u32, u32)) -> Result<Page, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "test-support-cdp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        // A profile left by an earlier process with the same id would hold a stale port.
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)
            .map_err(|e| format!("create Chromium profile {}: {e}", profile.display()))?;
        let log = profile.with_extension("log");
        let child = Command::new(chromium)
            .args(crate::browser::HEADLESS_FLAGS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={},{}", window.0, window.1))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
        // From here on, dropping `browser` (on any error) kills Chromium and cleans up.
        let mut browser = Browser {
            child,
            profile,
            log,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let port = browser
            .devtools_port(deadline)
            .map_err(|e| browser.with_log(&e))?;
        let target = browser
            .page_target(port, deadline)
            .map_err(|e| browser.with_log(&e))?;
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("connect to DevTools on 127.0.0.1:{port}: {e}"))?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(REPLY_TIMEOUT)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("DevTools socket: {e}"))?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (socket, _) =
            tungstenite::client::client_with_config(target.as_str(), stream, Some(config))
                .map_err(|e| {
                    browser.with_log(&format!("WebSocket handshake with {target}: {e}"))
                })?;
        Ok(Page {
            socket,
            next_id: 1,
            browser,
        })
    }

    /// Evaluates the expression `js` in the page (`Runtime.evaluate`), awaiting it when it is a
    /// promise, and returns its value as JSON (`Null` for `undefined`). An error when it throws
    /// (or the promise rejects), with the exception's description, or when the browser does not
    /// answer.
    pub fn eval(&mut self, js: &str) -> Result<Value, String> {
        self.evaluate(js)?
            .map_err(|e| format!("evaluating `{}`: {e}", excerpt(js)))
    }

    /// Evaluates the expression `js` every 50 ms until it gives `true` (JSON `true`: not merely
    /// truthy). Exceptions count as "not yet" (the page may still be loading); an error naming
    /// `what`, the timeout and the last value or exception when `timeout` passes first, or at
    /// once when the browser does not answer.
    pub fn wait_for(&mut self, js: &str, timeout: Duration, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.evaluate(js)? {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(value) => format!("last value {value}"),
                Err(e) => format!("last error {e}"),
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what} (`{}`: {last})",
                    excerpt(js)
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Captures the page as PNG (`Page.captureScreenshot`) and writes it to `path`, creating
    /// its parent folders.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), String> {
        let result = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))?
            .map_err(|e| format!("screenshot: {e}"))?;
        let data = result
            .get("data")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("screenshot: no image data in the reply {result}"))?;
        let png = data_encoding::BASE64
            .decode(data.as_bytes())
            .map_err(|e| format!("screenshot: bad base64 from Chromium: {e}"))?;
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("write {}: {e}", path.display()))
    }

    /// The pixels of the `<canvas>` that `selector` finds: (width, height, RGBA8 rows), as
    /// `getImageData` reads them.
    pub fn canvas_rgba(&mut self, selector: &str) -> Result<(u32, u32, Vec<u8>), String> {
        let js = format!(
            "(() => {{ const c = document.querySelector({sel}); \
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
             let s = ''; for (let i = 0; i < d.length; i += 8192) \
             s += String.fromCharCode.apply(null, d.subarray(i, i + 8192)); \
             return [c.width, c.height, btoa(s)]; }})()",
            sel = json!(selector)
        );
        let v = self.eval(&js)?;
        let (Some(w), Some(h), Some(data)) = (v[0].as_u64(), v[1].as_u64(), v[2].as_str()) else {
            return Err(format!("canvas {selector}: unexpected reply {v}"));
        };
        let rgba = data_encoding::BASE64
            .decode(data.as_bytes())
            .map_err(|e| format!("canvas {selector}: bad base64: {e}"))?;
        Ok((w as u32, h as u32, rgba))
    }

    /// `Runtime.evaluate`: the outer error when the browser does not answer, the inner one when
    /// the expression throws or DevTools refuses it (a context destroyed by a navigation, say).
    fn evaluate(&mut self, js: &str) -> Result<Result<Value, String>, String> {
        let params = json!({
            "expression": js,
            "awaitPromise": true,
            "returnByValue": true,
        });
        let mut result = match self.call("Runtime.evaluate", params)? {
            Ok(result) => result,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(details) = result.get("exceptionDetails") {
            return Ok(Err(exception_text(details)));
        }
        Ok(Ok(result
            .get_mut("result")
            .and_then(|r| r.get_mut("value"))
            .map(Value::take)
            .unwrap_or(Value::Null)))
    }

    /// Sends `method` with `params` and reads messages (skipping events and other replies)
    /// until the reply to it arrives: its `result`, or the inner error when DevTools answered
    /// with an `error`; the outer error when the socket fails or no reply comes within
    /// [`REPLY_TIMEOUT`].
    fn call(&mut self, method: &str, params: Value) -> Result<Result<Value, String>, String> {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params }).to_string();
        let deadline = Instant::now() + REPLY_TIMEOUT;
        self.socket.send(Message::text(command)).map_err(|e| {
            self.browser
                .with_log(&format!("DevTools {method}: send: {e}"))
        })?;
        loop {
            if Instant::now() >= deadline {
                return Err(self.browser.with_log(&format!(
                    "DevTools {method}: no reply within {REPLY_TIMEOUT:?}"
                )));
            }
            let message = match self.socket.read() {
                Ok(message) => message,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.browser.with_log(&format!(
                        "DevTools {method}: no reply within {REPLY_TIMEOUT:?} (browser hung?)"
                    )));
                }
                Err(e) => {
                    return Err(self
                        .browser
                        .with_log(&format!("DevTools {method}: read: {e}")));
                }
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => {
                    return Err(self.browser.with_log(&format!(
                        "DevTools {method}: the browser closed the connection ({frame:?})"
                    )));
                }
                _ => continue,
            };
            let reply: Value = serde_json::from_str(text.as_str())
                .map_err(|e| format!("DevTools {method}: bad JSON from the browser: {e}"))?;
            if reply.get("id").and_then(Value::as_u64) != Some(id) {
                continue; // an event ("method") or a stale reply
            }
            if let Some(error) = reply.get("error") {
                let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                return Ok(Err(format!(
                    "DevTools {method} failed: {message} ({error})"
                )));
            }
            return Ok(Ok(match reply {
                Value::Object(mut fields) => fields.remove("result").unwrap_or(Value::Null),
                _ => Value::Null,
            }));
        }
    }
}

/// The browser process, its throwaway profile and its log: killed and removed when dropped
/// (also when [`Page::open`] fails halfway).
#[derive(Debug)]
struct Browser {
    child: Child,
    profile: PathBuf,
    log: PathBuf,
}

impl Browser {
    /// The port from the `DevToolsActivePort` file (port, newline, browser path) Chromium
    /// writes into its profile once DevTools listens.
    fn devtools_port(&mut self, deadline: Instant) -> Result<u16, String> {
        let file = self.profile.join("DevToolsActivePort");
        loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Some((first, _)) = text.split_once('\n')
                && let Ok(port) = first.trim().parse::<u16>()
            {
                return Ok(port);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "Chromium exited ({status}) before opening DevTools"
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Chromium wrote no {} within {STARTUP_TIMEOUT:?}",
                    file.display()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The `webSocketDebuggerUrl` of the first `"type": "page"` entry of `/json/list`.
    fn page_target(&mut self, port: u16, deadline: Instant) -> Result<String, String> {
        loop {
            let last = match http_get(port, "/json/list") {
                Ok(body) => {
                    let targets: Value = serde_json::from_str(&body)
                        .map_err(|e| format!("/json/list: bad JSON ({e}): {body}"))?;
                    let found = targets.as_array().and_then(|targets| {
                        targets
                            .iter()
                            .filter(|t| t.get("type").and_then(Value::as_str) == Some("page"))
                            .find_map(|t| t.get("webSocketDebuggerUrl").and_then(Value::as_str))
                    });
                    if let Some(url) = found {
                        return Ok(url.to_owned());
                    }
                    format!("no page target in {body}")
                }
                Err(e) => e,
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("Chromium exited ({status}) before showing a page"));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no DevTools page target within {STARTUP_TIMEOUT:?}: {last}"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// `message`, followed by Chromium's last output lines when there are any.
    fn with_log(&self, message: &str) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let last: Vec<&str> = log.lines().rev().take(12).collect();
        if last.is_empty() {
            return message.to_owned();
        }
        let last: Vec<&str> = last.into_iter().rev().collect();
        format!("{message}; Chromium's last lines:\n{}", last.join("\n"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's helper processes may still be writing into the profile for a moment.
        for _ in 0..3 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(POLL);
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The body of `GET path` from 127.0.0.1:`port` (HTTP/1.1, one request per connection).
fn http_get(port: u16, path: &str) -> Result<String, String> {
    let what = format!("GET http://127.0.0.1:{port}{path}");
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("{what}: connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| format!("{what}: {e}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .and_then(|()| stream.flush())
    .map_err(|e| format!("{what}: send: {e}"))?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|e| format!("{what}: read: {e}"))?;
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("{what}: {}", status.trim()));
    }
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader
            .read_line(&mut line)
            .map_err(|e| format!("{what}: read: {e}"))?
            == 0
            || line.trim().is_empty()
        {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body)
        }
        None => reader.read_to_end(&mut body).map(|_| ()),
    }
    .map_err(|e| format!("{what}: read body: {e}"))?;
    String::from_utf8(body).map_err(|e| format!("{what}: body is not UTF-8: {e}"))
}

/// The message of a `Runtime.evaluate` `exceptionDetails`: its text ("Uncaught", "Uncaught (in
/// promise)") and the thrown value's description (`Error: ...` with the stack) or value.
fn exception_text(details: &Value) -> String {
    let text = details
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("exception");
    let thrown = details.get("exception");
    let description = thrown
        .and_then(|e| e.get("description"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| thrown.and_then(|e| e.get("value")).map(Value::to_string));
    match description {
        Some(description) => format!("{text}: {description}"),
        None => text.to_owned(),
    }
}

/// `js` cut to its first 200 characters, for error messages.
fn excerpt(js: &str) -> String {
    match js.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &js[..end]),
        None => js.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdp_roundtrip() {
        let Some(chromium) = crate::browser::require_chromium("cdp_roundtrip") else {
            return;
        };
        let mut page = Page::open(
            &chromium,
            "data:text/html,<title>cdp</title><p%20id=p>hello</p>",
            (320, 240),
        )
        .expect("open the page");
        page.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
            "the page to load",
        )
        .expect("page loads");

        assert_eq!(page.eval("1+2").expect("1+2"), json!(3));
        assert_eq!(
            page.eval("Promise.resolve('x')").expect("a promise"),
            json!("x")
        );
        assert_eq!(page.eval("undefined").expect("undefined"), Value::Null);
        assert_eq!(
            page.eval("({a: [1, 'b'], t: document.title})")
                .expect("an object"),
            json!({ "a": [1, "b"], "t": "cdp" })
        );
        assert_eq!(
            page.eval("document.getElementById('p').textContent")
                .expect("the DOM"),
            json!("hello")
        );

        let thrown = page
            .eval("throw new Error('boom')")
            .expect_err("an exception is an error");
        assert!(thrown.contains("boom"), "{thrown}");
        let rejected = page
            .eval("Promise.reject(new Error('late'))")
            .expect_err("a rejection is an error");
        assert!(rejected.contains("late"), "{rejected}");

        let timeout = page
            .wait_for("1 === 2", Duration::from_millis(200), "the impossible")
            .expect_err("never true");
        assert!(timeout.contains("the impossible"), "{timeout}");
        // Truthy is not enough: only JSON `true` ends the wait.
        assert!(
            page.wait_for("1", Duration::from_millis(100), "one")
                .is_err()
        );

        let scratch = crate::Scratch::new("cdp_roundtrip");
        let shot = scratch.path("nested/page.png");
        page.screenshot(&shot).expect("screenshot");
        let png = std::fs::read(&shot).expect("read the screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "not a PNG: {:?}",
            &png[..png.len().min(16)]
        );

        let profile = page.browser.profile.clone();
        drop(page);
        assert!(!profile.exists(), "{} left behind", profile.display());
    }
}
