//! Analysis alone, for measuring its speed and memory:
//! `cargo run --release -p audio --example analyze -- FILE [FPS]`.
//! Prints frames, audio seconds, wall seconds, the realtime factor and peak RSS.

use std::time::Instant;

use audio::{AnalysisConfig, AudioDecoder, FrameAnalyzer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: analyze FILE [FPS]")?;
    let fps: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30.0);
    let started = Instant::now();
    let decoder = AudioDecoder::open(path.as_ref())?;
    let seconds = decoder.info().duration_secs();
    let mut analyzer = FrameAnalyzer::new(decoder, fps, 0.0, None, AnalysisConfig::default())?;
    let mut buffers = analyzer.buffers();
    let mut frames = 0u64;
    let mut beats = 0u64;
    while let Some(f) = analyzer.next_frame(&mut buffers)? {
        frames += 1;
        beats += u64::from(f.beat > 0.5);
    }
    let wall = started.elapsed().as_secs_f64();
    let peak_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    println!(
        "frames {frames} beats {beats} audio {seconds:.1} s wall {wall:.2} s realtime x{:.0} peak_rss_kb {peak_kb}",
        seconds / wall
    );
    Ok(())
}
