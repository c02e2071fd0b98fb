//! Tags read from real files made by ffmpeg: title, artist, album and the cover picture of an
//! MP3 (ID3v2 ahead of the stream), a FLAC (Vorbis comments, a PICTURE block) and an M4A (MP4
//! atoms); a file without tags gives empty ones; a missing file is an error naming it.

use std::path::Path;
use std::process::Command;

use audio::read_tags;
use test_support::Scratch;

fn ffmpeg(args: &[&str]) {
    let status = Command::new(media_program())
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn media_program() -> String {
    std::env::var("FFMPEG").unwrap_or_else(|_| "ffmpeg".into())
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn titles_artists_and_covers_come_from_the_files_tags() {
    if !test_support::require_ffmpeg("audio tags") {
        return;
    }
    let dir = Scratch::new("audio-tags");
    let cover = dir.path("cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=32x32",
        "-frames:v",
        "1",
        s(&cover),
    ]);
    let tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"];
    let meta = [
        "-metadata",
        "title=Night Drive",
        "-metadata",
        "artist=Ana Ö",
        "-metadata",
        "album=Roads",
    ];
    let mut made = Vec::new();
    for (name, codec) in [
        ("t.mp3", "libmp3lame"),
        ("t.flac", "flac"),
        ("t.m4a", "aac"),
    ] {
        let out = dir.path(name);
        let mut args: Vec<&str> = tone.to_vec();
        args.extend(["-i", s(&cover), "-map", "0:a", "-map", "1:v", "-c:a", codec]);
        args.extend(["-c:v", if name == "t.m4a" { "png" } else { "copy" }]);
        args.extend(["-disposition:v", "attached_pic"]);
        args.extend(meta);
        args.push(s(&out));
        ffmpeg(&args);
        made.push(out);
    }
    for path in &made {
        let tags = read_tags(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            tags.title.as_deref(),
            Some("Night Drive"),
            "{}",
            path.display()
        );
        assert_eq!(tags.artist.as_deref(), Some("Ana Ö"), "{}", path.display());
        assert_eq!(tags.album.as_deref(), Some("Roads"), "{}", path.display());
        let cover = tags
            .cover
            .unwrap_or_else(|| panic!("{}: no cover", path.display()));
        // The picture is the PNG we embedded.
        assert!(
            cover.data.starts_with(b"\x89PNG"),
            "{}: {cover:?}",
            path.display()
        );
    }

    let plain = dir.path("plain.wav");
    ffmpeg(&[tone[0], tone[1], tone[2], tone[3], s(&plain)]);
    let tags = read_tags(&plain).expect("read plain wav");
    assert_eq!((tags.title, tags.artist, tags.cover), (None, None, None));

    let missing = dir.path("missing.mp3");
    let err = read_tags(&missing)
        .expect_err("a missing file is an error")
        .to_string();
    assert!(err.contains("missing.mp3"), "{err}");
}
