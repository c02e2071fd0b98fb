//! `cargo xtask gen-demo`: synthesises the demo track (assets/demo.flac).
//!
//! Ten seconds of procedural music at 120 BPM: kick, clap, hi-hats, a bass line, a pad and an
//! arpeggio over Am-F-C-G-Am. Generated here from code, so the project owns it outright; the
//! output is deterministic.

use std::f32::consts::TAU;
use std::path::Path;
use std::process::Command;

const RATE: u32 = 44_100;
const SECONDS: f32 = 10.0;
const BEAT: f32 = 0.5; // 120 BPM

/// MIDI note -> Hz.
fn hz(note: i32) -> f32 {
    440.0 * 2f32.powf((note - 69) as f32 / 12.0)
}

struct Noise(u32);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 as f32 / u32::MAX as f32 * 2.0 - 1.0
    }
}

/// Renders the track as interleaved stereo f32.
pub fn synthesize() -> Vec<f32> {
    // Root notes and minor/major third per bar (2 s each).
    let chords: [(i32, i32); 5] = [(57, 3), (53, 4), (48, 4), (55, 4), (57, 3)];
    let n = (RATE as f32 * SECONDS) as usize;
    let mut out = vec![0.0f32; n * 2];
    let mut noise = Noise(0x1234_5678);
    let mut hp_prev = 0.0f32;
    for i in 0..n {
        let t = i as f32 / RATE as f32;
        let bar = ((t / (4.0 * BEAT)) as usize).min(chords.len() - 1);
        let (root, third) = chords[bar];
        let beat_t = t % BEAT;
        let beat_index = (t / BEAT) as usize;
        let eighth_t = t % (BEAT / 2.0);
        let sixteenth = (t / (BEAT / 4.0)) as usize;
        let sixteenth_t = t % (BEAT / 4.0);

        // Kick: a falling sine on every beat.
        // Frequency 45 + 110 e^(-30 t) Hz, integrated for the phase.
        let kick_phase = TAU * (45.0 * beat_t + 110.0 / 30.0 * (1.0 - (-beat_t * 30.0).exp()));
        let kick = kick_phase.sin() * (-beat_t * 9.0).exp() * 0.9;

        // Clap on beats 2 and 4, hats on the off-beats.
        let white = noise.next();
        let clap = if beat_index % 2 == 1 {
            white * (-beat_t * 22.0).exp() * 0.35
        } else {
            0.0
        };
        let high = white - hp_prev;
        hp_prev = white;
        let hat = if (t / (BEAT / 2.0)) as usize % 2 == 1 {
            high * (-eighth_t * 60.0).exp() * 0.25
        } else {
            0.0
        };

        // Bass: the root an octave down in eighths, a few saw harmonics.
        let f_bass = hz(root - 24);
        let bass_env = (-eighth_t * 6.0).exp();
        let bass: f32 = (1..=5)
            .map(|k| (TAU * f_bass * k as f32 * t).sin() / k as f32)
            .sum::<f32>()
            * bass_env
            * 0.28;

        // Pad: the triad, detuned between left and right.
        let triad = [root, root + third, root + 7];
        let swell = 0.5 - 0.5 * (TAU * t / (4.0 * BEAT)).cos();
        let (mut pad_l, mut pad_r) = (0.0, 0.0);
        for note in triad {
            let f = hz(note);
            pad_l += (TAU * f * 0.998 * t).sin();
            pad_r += (TAU * f * 1.002 * t).sin();
        }
        let pad_gain = 0.06 * (0.4 + 0.6 * swell);

        // Arpeggio: chord tones an octave up, in sixteenths.
        let arp_note = triad[sixteenth % 3] + 12 + if sixteenth % 8 >= 6 { 12 } else { 0 };
        let arp_phase = (hz(arp_note) * t).fract();
        let tri = 4.0 * (arp_phase - 0.5).abs() - 1.0;
        let arp = tri * (-sixteenth_t * 14.0).exp() * 0.12;

        let centre = kick + clap + bass;
        out[2 * i] = centre + hat * 0.8 + pad_l * pad_gain + arp * 0.7;
        out[2 * i + 1] = centre + hat * 1.2 + pad_r * pad_gain + arp * 1.3;
    }
    // Normalise to -1 dBFS with short fades at both ends.
    let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-6);
    let gain = 10f32.powf(-1.0 / 20.0) / peak;
    let fade = (RATE as f32 * 0.05) as usize;
    for i in 0..n {
        let f = (i.min(n - 1 - i) as f32 / fade as f32).min(1.0);
        out[2 * i] *= gain * f;
        out[2 * i + 1] *= gain * f;
    }
    out
}

/// Writes assets/demo.flac (via a temporary WAV and ffmpeg's FLAC encoder) and assets/cover.jpg.
pub fn generate(root: &Path) -> anyhow::Result<()> {
    let samples = synthesize();
    let wav = std::env::temp_dir().join(format!("demo-{}.wav", std::process::id()));
    let bytes = audio::wav::encode_i16(RATE, 2, &samples);
    std::fs::write(&wav, bytes)?;
    let out = root.join("assets/demo.flac");
    let status = Command::new(media::ffmpeg_program())
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-c:a", "flac", "-compression_level", "8"])
        .arg(&out)
        .status();
    let _ = std::fs::remove_file(&wav);
    anyhow::ensure!(
        status?.success(),
        "ffmpeg could not write {}",
        out.display()
    );
    println!("wrote {}", out.display());

    // Cover art for the gallery styles: a Mandelbrot render from ffmpeg's lavfi source.
    let cover = root.join("assets/cover.jpg");
    let status = Command::new(media::ffmpeg_program())
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(
            "mandelbrot=s=640x640:start_scale=1.2:end_scale=1.2:maxiter=300:\
             outer=normalized_iteration_count,hue=h=200:s=0.7",
        )
        .args(["-frames:v", "1", "-q:v", "4"])
        .arg(&cover)
        .status();
    anyhow::ensure!(
        status?.success(),
        "ffmpeg could not write {}",
        cover.display()
    );
    println!("wrote {}", cover.display());
    Ok(())
}
