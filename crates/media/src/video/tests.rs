//! Tests of the video module: rate and probe parsing, the ffmpeg command line, options and files
//! refused; then clips and stills made with ffmpeg (a visible skip without it): probing, frame
//! order and looping, size and alpha, seeking, buffer recycling, dropping a stream mid-way.

use super::*;
use std::time::{Duration, Instant};

use test_support::Scratch;

/// Whether ffmpeg and ffprobe can be run. Missing: a visible skip, or a failure under CI.
fn have_ffmpeg() -> bool {
    test_support::require_ffmpeg("media video tests")
}

/// Runs ffmpeg to make a fixture.
fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new(ffmpeg_program())
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "making {} failed", out.display());
}

/// A 64x36, 1 s, 10 fps clip whose frame N has luma 20 + 20 N (losslessly coded), so
/// brightness tells which frame came.
fn counting_clip(dir: &Scratch) -> PathBuf {
    let path = dir.path("count.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x36:r=10:d=1,format=yuv420p,geq=lum='20+N*20':cb=128:cr=128",
            "-c:v",
            "libx264",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
        ],
        &path,
    );
    path
}

fn opts(width: u32, height: u32, fps: f64, start: f64, looped: bool) -> VideoFrameOptions {
    VideoFrameOptions {
        width,
        height,
        fps,
        start,
        looped,
    }
}

/// Mean of the red channel.
fn brightness(frame: &[u8]) -> f64 {
    let sum: u64 = frame.chunks_exact(4).map(|p| u64::from(p[0])).sum();
    sum as f64 / (frame.len() / 4) as f64
}

/// The brightness of the first `n` frames (fewer if the stream ends).
fn read_brightness(frames: &mut VideoFrames, n: usize) -> Vec<f64> {
    let mut out = Vec::new();
    let mut levels = Vec::new();
    while levels.len() < n && frames.next_frame(&mut out).unwrap() {
        assert_eq!(out.len(), frames.frame_len());
        levels.push(brightness(&out));
    }
    levels
}

/// Frame N of the counting clip, as RGB brightness (limited-range luma 20 + 20 N).
fn expected(n: usize) -> f64 {
    (20.0 + 20.0 * n as f64 - 16.0) * 255.0 / 219.0
}

fn assert_sequence(levels: &[f64], first: usize) {
    for (i, &b) in levels.iter().enumerate() {
        let want = expected((first + i) % 10);
        assert!(
            (b - want).abs() < 3.0,
            "frame {i}: brightness {b:.1}, expected {want:.1} (clip frame {}); all: {levels:.1?}",
            (first + i) % 10
        );
    }
}

#[test]
fn rates_parse() {
    assert_eq!(parse_rate("25/1"), Some(25.0));
    assert!((parse_rate("30000/1001").unwrap() - 29.97).abs() < 1e-3);
    assert_eq!(parse_rate("0/0"), None);
    assert_eq!(parse_rate("24"), Some(24.0));
    assert_eq!(parse_rate("N/A"), None);
}

#[test]
fn probe_output_parses() {
    let p = Path::new("a.mp4");
    let info = parse_probe(
        p,
        "width=1920\nheight=1080\nr_frame_rate=30000/1001\navg_frame_rate=0/0\n\
         format_name=mov,mp4,m4a,3gp,3g2,mj2\nduration=12.5\n",
    )
    .unwrap();
    assert_eq!((info.width, info.height), (1920, 1080));
    assert_eq!(info.duration, Some(12.5));
    assert!((info.fps.unwrap() - 29.97).abs() < 1e-3);
    assert!(!info.is_still());
    let still = parse_probe(
        p,
        "width=8\nheight=4\nr_frame_rate=25/1\navg_frame_rate=25/1\n\
         format_name=png_pipe\nduration=N/A\n",
    )
    .unwrap();
    assert_eq!((still.duration, still.fps), (None, None));
    assert!(still.is_still());
    let audio = parse_probe(p, "format_name=wav\nduration=3.0\n").unwrap_err();
    assert!(matches!(audio, MediaError::NoVideoStream { .. }), "{audio}");
}

#[test]
fn ffmpeg_command_line() {
    let args = |o: &VideoFrameOptions, start: f64| -> Vec<String> {
        ffmpeg_args(Path::new("dir/a:b.mp4"), o, start)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    let looped = args(&opts(320, 180, 29.97, 0.0, true), 2.5);
    assert_eq!(
        looped.join(" "),
        "-nostdin -v error -ss 2.500000 -stream_loop -1 -i file:dir/a:b.mp4 -map 0:v:0 \
         -vf fps=29.970000:eof_action=pass,scale=320:180:flags=bicubic,format=rgba \
         -f rawvideo -pix_fmt rgba pipe:1"
    );
    let once = args(&opts(16, 8, 30.0, 0.0, false), 0.0).join(" ");
    assert!(
        !once.contains("-ss") && !once.contains("-stream_loop"),
        "{once}"
    );
    assert!(once.contains("fps=30:"), "{once}");
}

#[test]
fn bad_options_are_refused_before_anything_runs() {
    let missing = Path::new("/nonexistent/clip.mp4");
    for bad in [
        opts(0, 10, 30.0, 0.0, true),
        opts(10, MAX_SIDE + 1, 30.0, 0.0, true),
        opts(10, 10, 0.0, 0.0, true),
        opts(10, 10, f64::NAN, 0.0, true),
        opts(10, 10, 30.0, -1.0, true),
        opts(10, 10, 30.0, f64::INFINITY, false),
    ] {
        let err = VideoFrames::spawn(missing, &bad).unwrap_err();
        assert!(matches!(err, MediaError::VideoConfig(_)), "{bad:?}: {err}");
    }
}

#[test]
fn missing_file_is_named() {
    let path = Path::new("/nonexistent/dir/missing-clip.mp4");
    let err = probe_video(path).unwrap_err();
    assert!(matches!(err, MediaError::VideoMissing { .. }), "{err}");
    assert!(err.to_string().contains("missing-clip.mp4"), "{err}");
    let err = VideoFrames::spawn(path, &opts(16, 16, 10.0, 0.0, true)).unwrap_err();
    assert!(err.to_string().contains("missing-clip.mp4"), "{err}");
}

#[test]
fn probe_reports_size_duration_and_rate() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("probe");
    let clip = counting_clip(&dir);
    let info = probe_video(&clip).unwrap();
    assert_eq!((info.width, info.height), (64, 36));
    assert!((info.duration.unwrap() - 1.0).abs() < 0.05, "{info:?}");
    assert!((info.fps.unwrap() - 10.0).abs() < 1e-6, "{info:?}");
    assert!(!info.is_still());
}

#[test]
fn probe_handles_still_images() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("probe-still");
    for name in ["x.png", "x.jpg"] {
        let path = dir.path(name);
        ffmpeg(
            &["-f", "lavfi", "-i", "color=red:s=32x24", "-frames:v", "1"],
            &path,
        );
        let info = probe_video(&path).unwrap();
        assert_eq!((info.width, info.height), (32, 24), "{name}");
        assert!(info.is_still(), "{name}: {info:?}");
        assert_eq!(info.fps, None, "{name}");
    }
}

#[test]
fn non_video_files_are_errors_naming_them() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("garbage");
    let garbage = dir.path("garbage.mp4");
    std::fs::write(&garbage, "this is not a video, just some text\n".repeat(50)).unwrap();
    let err = probe_video(&garbage).unwrap_err();
    assert!(matches!(err, MediaError::VideoProbe { .. }), "{err}");
    assert!(err.to_string().contains("garbage.mp4"), "{err}");

    let mut frames = VideoFrames::spawn(&garbage, &opts(16, 16, 10.0, 0.0, true)).unwrap();
    let mut out = Vec::new();
    let err = frames.next_frame(&mut out).unwrap_err();
    assert!(matches!(err, MediaError::VideoDecode { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("garbage.mp4") && text.contains("Invalid data"),
        "{text}"
    );
    // Later calls repeat the failure rather than pretending the clip ended.
    assert!(frames.next_frame(&mut out).is_err());

    let wav = dir.path("tone.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=0.2"], &wav);
    let err = probe_video(&wav).unwrap_err();
    assert!(matches!(err, MediaError::NoVideoStream { .. }), "{err}");
    assert!(err.to_string().contains("tone.wav"), "{err}");
    let mut frames = VideoFrames::spawn(&wav, &opts(16, 16, 10.0, 0.0, false)).unwrap();
    let err = frames.next_frame(&mut out).unwrap_err();
    assert!(err.to_string().contains("tone.wav"), "{err}");
}

#[test]
fn frames_come_in_order_and_the_loop_restarts() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("loop");
    let clip = counting_clip(&dir);
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, true)).unwrap();
    let levels = read_brightness(&mut frames, 25);
    assert_eq!(levels.len(), 25);
    assert!(
        levels[..10].windows(2).all(|w| w[1] > w[0] + 10.0),
        "{levels:.1?}"
    );
    assert!((levels[10] - levels[0]).abs() < 1.0, "{levels:.1?}");
    assert!((levels[20] - levels[0]).abs() < 1.0, "{levels:.1?}");
    assert_sequence(&levels, 0);
    assert_eq!(frames.frames(), 25);
}

#[test]
fn frames_have_the_requested_size_and_straight_opaque_alpha() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("size");
    let clip = counting_clip(&dir);
    for (w, h) in [(32, 18), (101, 50), (64, 36)] {
        let mut frames = VideoFrames::spawn(&clip, &opts(w, h, 10.0, 0.0, false)).unwrap();
        let mut out = vec![7u8; 3];
        assert!(frames.next_frame(&mut out).unwrap());
        assert_eq!(out.len(), w as usize * h as usize * 4, "{w}x{h}");
        assert!(out.chunks_exact(4).all(|p| p[3] == 255), "{w}x{h}");
        assert!((brightness(&out) - expected(0)).abs() < 3.0, "{w}x{h}");
    }
}

#[test]
fn unlooped_stream_ends_after_the_clip() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("end");
    let clip = counting_clip(&dir);
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, false)).unwrap();
    let levels = read_brightness(&mut frames, 100);
    assert_eq!(levels.len(), 10, "{levels:.1?}");
    assert_sequence(&levels, 0);
    let mut out = Vec::new();
    assert!(!frames.next_frame(&mut out).unwrap());
    assert!(!frames.next_frame(&mut out).unwrap());

    // Twice the clip's rate: every clip frame twice, about duration * fps frames.
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 20.0, 0.0, false)).unwrap();
    let levels = read_brightness(&mut frames, 100);
    assert!((19..=21).contains(&levels.len()), "{levels:.1?}");
    for (i, b) in levels.iter().enumerate().take(20) {
        assert!((b - expected(i / 2)).abs() < 3.0, "frame {i}: {levels:.1?}");
    }
}

#[test]
fn start_skips_ahead() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("start");
    let clip = counting_clip(&dir);
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.5, false)).unwrap();
    let levels = read_brightness(&mut frames, 100);
    assert_eq!(levels.len(), 5, "{levels:.1?}");
    assert_sequence(&levels, 5);

    // Looped, a start beyond the clip is taken modulo its duration: 2.3 s -> frame 3.
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 2.3, true)).unwrap();
    let levels = read_brightness(&mut frames, 15);
    assert_eq!(levels.len(), 15);
    assert_sequence(&levels, 3);
}

#[test]
fn buffers_are_recycled() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("recycle");
    let clip = counting_clip(&dir);
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 30.0, 0.0, true)).unwrap();
    let mut out = Vec::new();
    let mut buffers = std::collections::HashSet::new();
    for _ in 0..100 {
        assert!(frames.next_frame(&mut out).unwrap());
        buffers.insert(out.as_ptr() as usize);
    }
    // The reader's one, two in the channel, the consumer's one, one on its way back.
    assert!(
        buffers.len() <= 5,
        "{} distinct frame buffers",
        buffers.len()
    );
}

#[test]
fn dropping_mid_stream_kills_ffmpeg_without_hanging() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("drop");
    let clip = counting_clip(&dir);
    let mut frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, true)).unwrap();
    let mut out = Vec::new();
    assert!(frames.next_frame(&mut out).unwrap());
    assert!(frames.next_frame(&mut out).unwrap());
    let pid = frames.child.as_ref().map(Child::id).unwrap();
    // Let the reader fill the channel and block on it, and ffmpeg block on the pipe.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    drop(frames);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        t.elapsed()
    );
    // Reaped: no zombie left with that pid.
    if cfg!(target_os = "linux") {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "ffmpeg {pid} left"
        );
    }

    // Dropping before reading anything is fine too.
    let frames = VideoFrames::spawn(&clip, &opts(64, 36, 10.0, 0.0, true)).unwrap();
    let t = Instant::now();
    drop(frames);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        t.elapsed()
    );
}

#[test]
fn a_looped_still_image_repeats() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("still");
    let png = dir.path("x.png");
    ffmpeg(
        &["-f", "lavfi", "-i", "color=red:s=32x32", "-frames:v", "1"],
        &png,
    );
    let mut frames = VideoFrames::spawn(&png, &opts(32, 32, 30.0, 12.5, true)).unwrap();
    let (mut first, mut out) = (Vec::new(), Vec::new());
    assert!(frames.next_frame(&mut first).unwrap());
    assert!(
        first
            .chunks_exact(4)
            .all(|p| p[0] > 240 && p[1] < 15 && p[2] < 15 && p[3] == 255),
        "not red: {:?}",
        &first[..8]
    );
    for i in 0..40 {
        assert!(frames.next_frame(&mut out).unwrap(), "frame {i}");
        assert_eq!(out, first, "frame {i}");
    }

    // Not looped: the picture (for the 1/25 s an image lasts to ffmpeg), then the end.
    let mut frames = VideoFrames::spawn(&png, &opts(16, 16, 30.0, 0.0, false)).unwrap();
    let mut n = 0;
    while frames.next_frame(&mut out).unwrap() {
        assert_eq!(out.len(), 16 * 16 * 4);
        n += 1;
    }
    assert!((1..=2).contains(&n), "{n} frames");
}

#[test]
fn transparency_stays_straight_alpha() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("alpha");
    let png = dir.path("half.png");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red@0.5:s=32x32,format=rgba",
            "-frames:v",
            "1",
        ],
        &png,
    );
    let mut frames = VideoFrames::spawn(&png, &opts(20, 20, 10.0, 0.0, true)).unwrap();
    let mut out = Vec::new();
    assert!(frames.next_frame(&mut out).unwrap());
    // Straight: the colour stays full red while alpha is half, not premultiplied.
    assert!(
        out.chunks_exact(4)
            .all(|p| p[0] > 250 && p[1] < 5 && p[2] < 5 && (120..=135).contains(&p[3])),
        "{:?}",
        &out[..8]
    );
}
