//! Built-in styles: the style jobs of `assets/styles/`, embedded in the binary, made into a job
//! for any audio file (`renderer SONG.mp3 --style NAME`, `renderer --print-job SONG.mp3`).
//!
//! A style is a job written for the demo track. For another file: `audio` and `output` become
//! the file's; the text layers that show a fixed string (the title and artist lines) show the
//! file's title (its tag, else its name) and then its artist (dropped without one); pictures of
//! the demo's cover show the file's own cover art (written once into the cache folder), or go
//! where it has none; the custom-shader style's shader is written into the cache folder; the
//! captions layer needs a transcript (`--captions`), else it goes. A job file with no layers
//! gets the default style the same way (see [`crate::preflight`]).

use std::path::{Path, PathBuf};

use crate::job::JobError;

/// The style used when none is named.
pub const DEFAULT_STYLE: &str = "neon-bars";

/// The styles, by name, with their job text (assets/styles/NAME.toml).
const STYLES: &[(&str, &str)] = &[
    (
        "neon-bars",
        include_str!("../../../assets/styles/neon-bars.toml"),
    ),
    (
        "radial-cover",
        include_str!("../../../assets/styles/radial-cover.toml"),
    ),
    (
        "oscilloscope",
        include_str!("../../../assets/styles/oscilloscope.toml"),
    ),
    (
        "spectrogram",
        include_str!("../../../assets/styles/spectrogram.toml"),
    ),
    (
        "custom-plasma",
        include_str!("../../../assets/styles/custom-plasma.toml"),
    ),
    (
        "square-podcast",
        include_str!("../../../assets/styles/square-podcast.toml"),
    ),
    (
        "vertical-short",
        include_str!("../../../assets/styles/vertical-short.toml"),
    ),
    (
        "vertical-captions",
        include_str!("../../../assets/styles/vertical-captions.toml"),
    ),
];

/// The custom-plasma style's shader.
const PLASMA: &str = include_str!("../../../assets/shaders/plasma.wgsl");

/// The styles' names and what each looks like (its job's opening comment).
pub fn list() -> Vec<(&'static str, String)> {
    STYLES
        .iter()
        .map(|(name, text)| {
            let about = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim())
                .collect::<Vec<_>>()
                .join(" ");
            (*name, about)
        })
        .collect()
}

/// The job text of style `name`.
fn text_of(name: &str) -> Result<&'static str, JobError> {
    STYLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| JobError::Invalid {
            what: "--style".into(),
            message: format!(
                "there is no style \"{name}\"; the styles are {} (renderer --styles shows them)",
                STYLES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Where the styles' files go: `styles` in the renderer's cache folder
/// ([`wav2lip::fetch::cache_root`]: `$XDG_CACHE_HOME/renderer`, else `~/.cache/renderer`).
fn cache_dir() -> PathBuf {
    wav2lip::fetch::cache_root().join("styles")
}

/// Writes `bytes` as `name` in the cache folder (unless it is there already, same bytes), by a
/// temporary file and a rename.
fn cached(name: &str, bytes: &[u8]) -> Result<PathBuf, JobError> {
    let dir = cache_dir();
    let path = dir.join(name);
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(path);
    }
    let fail = |e: std::io::Error| JobError::Invalid {
        what: dir.display().to_string(),
        message: format!("cannot write the style's file {name} there: {e}"),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(path)
}

/// FNV-1a of `bytes`: a name for a cover in the cache.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a style needs to know of the audio file.
#[derive(Debug, Clone, Default)]
pub struct AudioFacts {
    pub title: String,
    pub artist: Option<String>,
    /// The cover art, written into the cache folder.
    pub cover: Option<PathBuf>,
}

impl AudioFacts {
    /// Reads the tags of `audio` (a file without tags, or one symphonia cannot read, is titled
    /// by its name: a bad file is reported by the render itself).
    pub fn read(audio: &Path) -> Result<Self, JobError> {
        let tags = audio::read_tags(audio).unwrap_or_default();
        let title = tags.title.unwrap_or_else(|| {
            audio
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let cover = match tags.cover {
            Some(c) => {
                let ext = match c.media_type.as_str() {
                    "image/png" => Some("png"),
                    "image/jpeg" | "image/jpg" => Some("jpg"),
                    _ => None,
                };
                match ext {
                    Some(ext) => Some(cached(
                        &format!("cover-{:016x}.{ext}", fnv(&c.data)),
                        &c.data,
                    )?),
                    None => None,
                }
            }
            None => None,
        };
        Ok(Self {
            title: shorten(&title),
            artist: tags.artist.as_deref().map(shorten),
            cover,
        })
    }
}

/// A title line's text: at most 120 characters (a longer one ends in "…").
fn shorten(s: &str) -> String {
    const MAX: usize = 120;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        s.chars().take(MAX - 1).chain(['…']).collect()
    }
}

/// Is `value` one of the demo's files (`../cover.jpg`)?
fn is_demo_cover(value: &toml::Value) -> bool {
    value.as_str().is_some_and(|s| s.ends_with("cover.jpg"))
}

/// The layers of style `name` adapted to an audio file (see the module comment), as TOML
/// tables.
fn style_layers(
    name: &str,
    facts: &AudioFacts,
    captions: Option<&Path>,
) -> Result<(toml::Table, Vec<toml::Table>), JobError> {
    let text = text_of(name)?;
    let mut doc: toml::Table = text.parse().map_err(|e| JobError::Invalid {
        what: format!("style {name}"),
        message: format!("the built-in style does not parse: {e}"),
    })?;
    let tables: Vec<toml::Table> = match doc.remove("layer") {
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                toml::Value::Table(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut fixed_texts = 0;
    let mut has_captions = false;
    for mut layer in tables {
        let kind = layer.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        match kind {
            "image" if layer.get("path").is_some_and(is_demo_cover) => match &facts.cover {
                Some(c) => {
                    layer.insert("path".into(), path_value(c));
                }
                None => continue,
            },
            "background" | "radial" => {
                let key = if kind == "background" {
                    "image"
                } else {
                    "cover"
                };
                if layer.get(key).is_some_and(is_demo_cover) {
                    match &facts.cover {
                        Some(c) => layer.insert(key.into(), path_value(c)),
                        None => layer.remove(key),
                    };
                }
            }
            "custom" => {
                let shader = cached("plasma.wgsl", PLASMA.as_bytes())?;
                layer.insert("shader".into(), path_value(&shader));
            }
            "captions" => match captions {
                Some(file) => {
                    has_captions = true;
                    layer.insert("file".into(), path_value(file));
                }
                None => continue,
            },
            "text" => {
                let fixed = layer
                    .get("text")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| !t.contains('{'));
                if fixed {
                    fixed_texts += 1;
                    let shown = match fixed_texts {
                        1 => Some(facts.title.clone()),
                        2 => facts.artist.clone(),
                        _ => None,
                    };
                    match shown {
                        Some(s) => layer.insert("text".into(), toml::Value::String(s)),
                        None => continue,
                    };
                }
            }
            _ => {}
        }
        out.push(layer);
    }
    if let (Some(file), false) = (captions, has_captions) {
        let mut layer = toml::Table::new();
        layer.insert("kind".into(), "captions".into());
        layer.insert("file".into(), path_value(file));
        layer.insert("box_color".into(), "#00000090".into());
        out.push(layer);
    }
    Ok((doc, out))
}

fn path_value(p: &Path) -> toml::Value {
    toml::Value::String(p.display().to_string())
}

/// An absolute form of `p` (against the current folder), so a printed job works anywhere.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// The job (TOML text) that renders `audio` with style `name` into `output` (default: beside
/// the audio, `NAME.mp4`), with the transcript `captions` shown where given.
pub fn job_for_audio(
    name: &str,
    audio: &Path,
    output: Option<&Path>,
    captions: Option<&Path>,
) -> Result<String, JobError> {
    let audio = absolute(audio);
    let facts = AudioFacts::read(&audio)?;
    let captions = captions.map(absolute);
    let (mut doc, layers) = style_layers(name, &facts, captions.as_deref())?;
    let output = match output {
        Some(o) => absolute(o),
        None => {
            let beside = audio.with_extension("mp4");
            if beside == audio {
                audio.with_extension("video.mp4")
            } else {
                beside
            }
        }
    };
    doc.insert("audio".into(), path_value(&audio));
    doc.insert("output".into(), path_value(&output));
    doc.insert(
        "layer".into(),
        toml::Value::Array(layers.into_iter().map(toml::Value::Table).collect()),
    );
    let body = toml::to_string(&doc).map_err(|e| JobError::Invalid {
        what: format!("style {name}"),
        message: format!("cannot write the job: {e}"),
    })?;
    Ok(format!(
        "# Style \"{name}\" for {} (renderer --print-job); edit and render with `renderer \
         THIS.toml`.\n{body}",
        audio.display()
    ))
}

/// The layers of the default style for a job's `audio` (a job file without layers).
pub(crate) fn default_layers(audio: &Path) -> Result<Vec<crate::job::Layer>, JobError> {
    let text = job_for_audio(DEFAULT_STYLE, audio, None, None)?;
    let job = crate::Job::parse_str(&text, &format!("style {DEFAULT_STYLE}"), Path::new(""))?;
    Ok(job.layers)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_style_file_is_embedded_and_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/styles");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let p = e.path();
                (p.extension()? == "toml").then(|| p.file_stem().unwrap().to_string_lossy().into())
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = STYLES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "assets/styles/*.toml and STYLES differ");
        for (name, text) in STYLES {
            crate::Job::parse_str(text, name, &dir).unwrap();
            assert!(!list().iter().find(|(n, _)| n == name).unwrap().1.is_empty());
        }
    }

    /// The `text` of every text layer.
    fn texts_of(layers: &[toml::Table]) -> Vec<&str> {
        layers
            .iter()
            .filter(|l| l["kind"].as_str() == Some("text"))
            .map(|l| l["text"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_style_for_a_file_without_tags_or_cover() {
        let facts = AudioFacts {
            title: "My Song".into(),
            artist: None,
            cover: None,
        };
        // vertical-short: title and artist lines, a radial cover.
        let (_, layers) = style_layers("vertical-short", &facts, None).unwrap();
        let texts = texts_of(&layers);
        assert_eq!(texts, ["My Song"], "the artist line goes without an artist");
        let radial = layers
            .iter()
            .find(|l| l["kind"].as_str() == Some("radial"))
            .unwrap();
        assert!(radial.get("cover").is_none());
        // square-podcast: its logo is the demo cover: gone without one.
        let (_, layers) = style_layers("square-podcast", &facts, None).unwrap();
        assert!(layers.iter().all(|l| l["kind"].as_str() != Some("image")));
        // vertical-captions: no transcript, no captions layer; with one, it is used.
        let (_, without) = style_layers("vertical-captions", &facts, None).unwrap();
        assert!(
            without
                .iter()
                .all(|l| l["kind"].as_str() != Some("captions"))
        );
        let (_, with) =
            style_layers("vertical-captions", &facts, Some(Path::new("/t.srt"))).unwrap();
        let c = with
            .iter()
            .find(|l| l["kind"].as_str() == Some("captions"))
            .unwrap();
        assert_eq!(c["file"].as_str(), Some("/t.srt"));
        // A style without captions gets a captions layer when a transcript is given.
        let (_, added) = style_layers("neon-bars", &facts, Some(Path::new("/t.srt"))).unwrap();
        assert_eq!(added.last().unwrap()["kind"].as_str(), Some("captions"));
    }

    #[test]
    fn a_style_with_cover_art_and_an_artist() {
        let facts = AudioFacts {
            title: "Night Drive".into(),
            artist: Some("Ana".into()),
            cover: Some(PathBuf::from("/cache/cover-1.jpg")),
        };
        let (_, layers) = style_layers("vertical-short", &facts, None).unwrap();
        let texts = texts_of(&layers);
        assert_eq!(texts, ["Night Drive", "Ana"]);
        let radial = layers
            .iter()
            .find(|l| l["kind"].as_str() == Some("radial"))
            .unwrap();
        assert_eq!(radial["cover"].as_str(), Some("/cache/cover-1.jpg"));
        // A clock text ({elapsed}) is not a title line.
        let (_, neon) = style_layers("neon-bars", &facts, None).unwrap();
        let texts = texts_of(&neon);
        assert_eq!(texts, ["Night Drive", "{elapsed} / {total}"]);
    }

    #[test]
    fn titles_are_kept_short() {
        assert_eq!(shorten("Night Drive"), "Night Drive");
        let long = shorten(&"x".repeat(100_000));
        assert_eq!(long.chars().count(), 120);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn an_unknown_style_lists_the_styles() {
        let e = text_of("neon").unwrap_err().to_string();
        assert!(
            e.contains("\"neon\"") && e.contains("neon-bars, radial-cover"),
            "{e}"
        );
    }
}
