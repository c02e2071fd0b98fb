//! A file's tags: title, artist, album and the front cover picture, from the container
//! (FLAC/Vorbis comments, MP4 atoms, ID3v2 ahead of MP3, RIFF INFO) as symphonia reads them.
//! Used to title a video made straight from an audio file; a file without tags gives empty
//! ones. Reading runs under the same guard as decoding (a panic in symphonia is an error).

use std::fs::File;
use std::path::Path;

use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey, StandardVisualKey};
use symphonia::core::probe::Hint;

use crate::AudioError;
use crate::decode::guard;

/// An embedded picture.
#[derive(Clone, PartialEq, Eq)]
pub struct Cover {
    /// Its MIME type as the file states it, e.g. "image/jpeg".
    pub media_type: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Cover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cover({}, {} bytes)", self.media_type, self.data.len())
    }
}

/// What the tags say; `None` where a tag is absent or blank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// The front cover, else the first picture.
    pub cover: Option<Cover>,
}

impl Tags {
    /// Fills what is missing from `rev`.
    fn merge(&mut self, rev: &MetadataRevision) {
        for tag in rev.tags() {
            let slot = match tag.std_key {
                Some(StandardTagKey::TrackTitle) => &mut self.title,
                Some(StandardTagKey::Artist) => &mut self.artist,
                Some(StandardTagKey::Album) => &mut self.album,
                _ => continue,
            };
            let value = tag.value.to_string().trim().to_owned();
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value);
            }
        }
        if self.cover.is_none() {
            let visuals = rev.visuals();
            let front = visuals
                .iter()
                .find(|v| v.usage == Some(StandardVisualKey::FrontCover))
                .or(visuals.first());
            self.cover = front.filter(|v| !v.data.is_empty()).map(|v| Cover {
                media_type: v.media_type.clone(),
                data: v.data.to_vec(),
            });
        }
    }
}

/// Reads the tags of the audio file at `path`.
pub fn read_tags(path: &Path) -> Result<Tags, AudioError> {
    guard(path, || {
        let file = File::open(path).map_err(|source| AudioError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let mut probed = symphonia::default::get_probe()
            .format(
                &hint,
                mss,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .map_err(|e| AudioError::Unsupported {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let mut tags = Tags::default();
        // The container's own metadata first, then what came before it (ID3v2 ahead of MP3).
        if let Some(rev) = probed.format.metadata().current() {
            tags.merge(rev);
        }
        if let Some(mut meta) = probed.metadata.get()
            && let Some(rev) = meta.skip_to_latest()
        {
            tags.merge(rev);
        }
        Ok(tags)
    })
}
