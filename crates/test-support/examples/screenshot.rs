//! Screenshots a page in headless Chromium once a condition holds (how docs/studio.png is made):
//! `cargo run -p test-support --example screenshot -- URL OUT.png [JS-CONDITION] [WIDTHxHEIGHT]`.

use std::time::Duration;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, out, rest @ ..] = args.as_slice() else {
        return Err("usage: screenshot URL OUT.png [JS-CONDITION] [WIDTHxHEIGHT]".into());
    };
    let condition = rest
        .first()
        .map_or("document.readyState === 'complete'", String::as_str);
    let (w, h) = rest
        .get(1)
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((1400, 860));
    let chromium = test_support::browser::chromium().ok_or("no Chromium found (set $CHROMIUM)")?;
    let mut page = test_support::cdp::Page::open(&chromium, url, (w, h))?;
    page.wait_for(condition, Duration::from_secs(60), "the condition")?;
    std::thread::sleep(Duration::from_millis(500));
    page.screenshot(std::path::Path::new(out))
}
