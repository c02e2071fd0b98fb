//! `cargo run -p audio --example loudness -- FILE [START [DURATION]]`: EBU R128 figures of a
//! file (integrated loudness, loudness range, true peak), as the renderer measures them.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: loudness FILE [START [DURATION]]")?;
    let start: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0.0);
    let duration: Option<f64> = args.next().map(|s| s.parse()).transpose()?;
    let m = audio::measure_loudness(std::path::Path::new(&path), start, duration)?;
    println!(
        "{path}: I {:.1} LUFS, LRA {:.1} LU, true peak {:.1} dBTP, gate {:.1} LUFS",
        m.integrated, m.range, m.true_peak, m.threshold
    );
    Ok(())
}
