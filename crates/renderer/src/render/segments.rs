//! Segments (`--segment I/N`): which part of a render each is, the tag in its MP4, and `join`.

use std::time::{Duration, Instant};

use audio::AudioDecoder;
use media::AudioInput;

use super::AUDIO_KBPS;
use super::plan::Plan;
use crate::RenderError;
use crate::job::Job;

/// Part `index` of `count` of a render (`renderer JOB --segment I/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Segment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("segment \"{s}\" is not I/N: write e.g. 0/4 for the first of four (0 <= I < N)")
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Segment {
    /// `out.mp4` -> `out.segment-0003-of-0010.mp4` beside it.
    pub fn default_path(&self, output: &std::path::Path) -> std::path::PathBuf {
        let stem = output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        output.with_file_name(format!(
            "{stem}.segment-{:04}-of-{:04}.mp4",
            self.index, self.count
        ))
    }
}

/// What a segment file says about itself (its MP4 `comment` tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentTag {
    pub index: u32,
    pub count: u32,
    /// First frame (within the whole render) and frames in this segment.
    pub first: u64,
    pub frames: u64,
    /// Frames of the whole render.
    pub total: u64,
    /// [`job_fingerprint`] of the job it was rendered from.
    pub fingerprint: String,
}

const SEGMENT_TAG: &str = "renderer-segment v1";

impl std::fmt::Display for SegmentTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{SEGMENT_TAG} index={} count={} first={} frames={} total={} fingerprint={}",
            self.index, self.count, self.first, self.frames, self.total, self.fingerprint
        )
    }
}

impl std::str::FromStr for SegmentTag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix(SEGMENT_TAG)
            .ok_or_else(|| "not a segment tag".to_owned())?;
        let mut tag = SegmentTag {
            index: 0,
            count: 0,
            first: 0,
            frames: 0,
            total: 0,
            fingerprint: String::new(),
        };
        for item in rest.split_whitespace() {
            let (k, v) = item.split_once('=').ok_or("malformed segment tag")?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| format!("bad {k} in segment tag"))
            };
            match k {
                "index" => tag.index = num()? as u32,
                "count" => tag.count = num()? as u32,
                "first" => tag.first = num()?,
                "frames" => tag.frames = num()?,
                "total" => tag.total = num()?,
                "fingerprint" => tag.fingerprint = v.to_owned(),
                _ => {}
            }
        }
        if tag.count == 0 || tag.fingerprint.is_empty() {
            return Err("incomplete segment tag".into());
        }
        Ok(tag)
    }
}

/// A digest of everything that decides a render's pictures and encoding (the job without its
/// output path, and this build's version): segments join only when theirs agree.
pub fn job_fingerprint(job: &Job) -> String {
    let mut j = job.clone();
    j.output = std::path::PathBuf::new();
    let text = format!("{}|{j:?}", env!("CARGO_PKG_VERSION"));
    // FNV-1a, 64 bits: stable across processes and platforms (std's hasher is seeded).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What `join` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinSummary {
    pub output: std::path::PathBuf,
    pub segments: usize,
    pub frames: u64,
    pub elapsed: Duration,
}

/// Joins the segments of `job` (rendered with `--segment I/N`, any order on the command line)
/// into `output` without re-encoding the video, with the job's audio muxed once over the whole.
/// Refuses missing, duplicated or foreign segments (other job, other settings, other build).
pub fn join(
    job: &Job,
    segments: &[std::path::PathBuf],
    output: &std::path::Path,
) -> Result<JoinSummary, RenderError> {
    let started = Instant::now();
    job.validate()?;
    let fps = job.video.fps.0;
    let info = AudioDecoder::open(&job.audio)?.info().clone();
    let whole = Plan::new(&info, &job.audio, job.start, job.duration, fps, 0.0)?;
    let fingerprint = job_fingerprint(job);
    if segments.is_empty() {
        return Err(RenderError::Segment(
            "no segments given: list the files rendered with --segment I/N".into(),
        ));
    }
    let tagged = read_tags(segments, &fingerprint)?;
    check_tiling(&tagged, whole.total_frames)?;
    let paths: Vec<(std::path::PathBuf, f64)> = tagged
        .into_iter()
        .map(|(t, p)| (p, t.frames as f64 / fps))
        .collect();
    let filter = super::loudness::plan(job, whole.seconds)?.map(|(_, f)| f);
    media::join_segments(
        &paths,
        Some(&AudioInput {
            path: job.audio.clone(),
            start: job.start,
            duration: whole.seconds,
            filter,
        }),
        AUDIO_KBPS,
        &super::chapter_marks(job, whole.seconds),
        output,
    )?;
    Ok(JoinSummary {
        output: output.to_owned(),
        segments: paths.len(),
        frames: whole.total_frames,
        elapsed: started.elapsed(),
    })
}

/// The tag of each segment file, checked against the job's `fingerprint` and the others (no
/// index twice, one count), in index order.
fn read_tags(
    segments: &[std::path::PathBuf],
    fingerprint: &str,
) -> Result<Vec<(SegmentTag, std::path::PathBuf)>, RenderError> {
    let mut tagged: Vec<(SegmentTag, std::path::PathBuf)> = Vec::new();
    for path in segments {
        if !path.is_file() {
            return Err(RenderError::Segment(format!(
                "segment {} does not exist",
                path.display()
            )));
        }
        let comment = media::probe_comment(path)?;
        let tag: SegmentTag = comment
            .as_deref()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                RenderError::Segment(format!(
                    "{} is not a segment rendered by `renderer JOB --segment I/N` (it has no \
                     segment tag)",
                    path.display()
                ))
            })?;
        if tag.fingerprint != fingerprint {
            return Err(RenderError::Segment(format!(
                "{} was rendered from a different job or with different settings or renderer \
                 version (fingerprint {}, this job's {fingerprint}): render it again with this \
                 job",
                path.display(),
                tag.fingerprint
            )));
        }
        if let Some((_, other)) = tagged.iter().find(|(t, _)| t.index == tag.index) {
            return Err(RenderError::Segment(format!(
                "segment {}/{} is given twice: {} and {}",
                tag.index,
                tag.count,
                other.display(),
                path.display()
            )));
        }
        if let Some((first, first_path)) = tagged.first()
            && first.count != tag.count
        {
            return Err(RenderError::Segment(format!(
                "{} is one of {} segments but {} is one of {}: render all segments with the \
                 same N",
                path.display(),
                tag.count,
                first_path.display(),
                first.count
            )));
        }
        tagged.push((tag, path.clone()));
    }
    let count = tagged[0].0.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !tagged.iter().any(|(t, _)| t.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(RenderError::Segment(format!(
            "missing segment(s) {} of {count}: render them with --segment and join again",
            missing.join(", ")
        )));
    }
    tagged.sort_by_key(|(t, _)| t.index);
    Ok(tagged)
}

/// The tags (in index order) must tile the render's `total` frames exactly.
fn check_tiling(
    tagged: &[(SegmentTag, std::path::PathBuf)],
    total: u64,
) -> Result<(), RenderError> {
    let mut next = 0u64;
    for (t, path) in tagged {
        if t.first != next || t.total != total {
            return Err(RenderError::Segment(format!(
                "{} covers frames {}..{} of {}, expected to start at frame {next} of {}",
                path.display(),
                t.first,
                t.first + t.frames,
                t.total,
                total
            )));
        }
        next += t.frames;
    }
    if next != total {
        return Err(RenderError::Segment(format!(
            "the segments hold {next} frames, the render {total}"
        )));
    }
    Ok(())
}
