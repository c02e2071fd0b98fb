//! Which face an avatar follows, and when its box history no longer applies: the face chosen
//! among those detected (`face_select`), shot changes (`cuts`), and the blend weight that fades
//! lip sync back in when a face returns (`on_no_face = "pass"`, `fade_in`).
//!
//! Shot changes are found on a 32x18 thumbnail of each face-video frame (an area-filtered
//! resample: on the GPU backend the picture's texture is resampled on the device and only the
//! 6.9 KB thumbnail is read back; on the CPU backend the frame's bytes are used). Two frames are
//! the same shot when their thumbnails, each made zero-mean and unit-variance per channel,
//! correlate: a fade changes brightness and contrast but not the normalised picture, so it is
//! no cut; a nearly uniform frame (black, mid-fade) is compared with nothing and keeps the last
//! real frame as the reference.

use serde::Deserialize;
use wav2lip::mtcnn::{Face, iou};

/// Thumbnail size for the cut measure.
pub(crate) const THUMB: (u32, u32) = (32, 18);

/// Below this normalised correlation two frames are different shots.
const CUT_CORRELATION: f32 = 0.5;

/// A thumbnail whose standard deviation is below this (of 0..1 values) is "flat": black or
/// nearly so, mid-fade; it is not compared.
const FLAT: f32 = 0.02;

/// `face_select`: which of the faces found in a frame the avatar follows.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(try_from = "toml::Value")]
pub enum FaceSelect {
    /// The largest face (Wav2Lip's own choice).
    #[default]
    Largest,
    /// The face nearest the picture's centre.
    Center,
    /// The face nearest this point, pixels of the picture.
    Nearest([f32; 2]),
    /// The face that overlaps the one followed so far (the largest at the start and after a
    /// cut), through short gaps.
    Track,
}

impl TryFrom<toml::Value> for FaceSelect {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        let fail = || {
            format!(
                "face_select must be \"largest\", \"center\", \"track\" or a point [x, y] in \
                 pixels of the face picture (the face nearest it), got {v}"
            )
        };
        match &v {
            toml::Value::String(s) => match s.as_str() {
                "largest" => Ok(Self::Largest),
                "center" | "centre" => Ok(Self::Center),
                "track" => Ok(Self::Track),
                _ => Err(fail()),
            },
            toml::Value::Array(a) => {
                let xy: Vec<f64> = a
                    .iter()
                    .filter_map(|c| c.as_float().or_else(|| c.as_integer().map(|i| i as f64)))
                    .collect();
                match xy.as_slice() {
                    &[x, y] if a.len() == 2 && x.is_finite() && y.is_finite() => {
                        Ok(Self::Nearest([x as f32, y as f32]))
                    }
                    _ => Err(fail()),
                }
            }
            _ => Err(fail()),
        }
    }
}

fn centre(r: [f32; 4]) -> [f32; 2] {
    [0.5 * (r[0] + r[2]), 0.5 * (r[1] + r[3])]
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// The same face as `followed` in a later frame: the best overlap, or where none overlaps, a
/// face of similar size whose centre moved less than its own width.
fn same_face(faces: &[Face], followed: [f32; 4]) -> Option<&Face> {
    let overlapping = faces
        .iter()
        .map(|f| (iou(f.rect, followed), f))
        .filter(|(o, _)| *o > 0.1)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, f)| f);
    overlapping.or_else(|| {
        let width = (followed[2] - followed[0]).max(1.0);
        let area = width * (followed[3] - followed[1]).max(1.0);
        faces
            .iter()
            .filter(|f| (0.5..=2.0).contains(&(f.area() / area)))
            .map(|f| (distance(centre(f.rect), centre(followed)), f))
            .filter(|(d, _)| *d < width)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, f)| f)
    })
}

/// The face `select` picks among `faces` in a `picture`-sized frame; `followed` is the box
/// tracked so far (for [`FaceSelect::Track`]).
pub(crate) fn choose(
    faces: &[Face],
    select: FaceSelect,
    picture: (u32, u32),
    followed: Option<[f32; 4]>,
) -> Option<&Face> {
    let nearest = |p: [f32; 2]| {
        faces
            .iter()
            .min_by(|a, b| distance(centre(a.rect), p).total_cmp(&distance(centre(b.rect), p)))
    };
    let largest = || faces.iter().max_by(|a, b| a.area().total_cmp(&b.area()));
    match select {
        FaceSelect::Largest => largest(),
        FaceSelect::Center => nearest([0.5 * picture.0 as f32, 0.5 * picture.1 as f32]),
        FaceSelect::Nearest(p) => nearest(p),
        FaceSelect::Track => match followed {
            Some(f) => same_face(faces, f),
            None => largest(),
        },
    }
}

/// A frame's thumbnail, normalised per channel (zero mean, unit variance), or `None` when the
/// frame is flat.
fn normalised(thumb: &[f32]) -> Option<Vec<f32>> {
    let plane = (THUMB.0 * THUMB.1) as usize;
    let mut out = Vec::with_capacity(thumb.len());
    let mut contrast = 0.0f32;
    for channel in thumb.chunks(plane) {
        let n = channel.len() as f32;
        let mean = channel.iter().sum::<f32>() / n;
        let var = channel.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        let std = var.sqrt();
        contrast = contrast.max(std);
        out.extend(channel.iter().map(|v| (v - mean) / std.max(1e-6)));
    }
    (contrast >= FLAT).then_some(out)
}

/// The shot-change detector's state: the last frame with contrast.
#[derive(Debug, Default)]
pub(crate) struct Cuts {
    reference: Option<Vec<f32>>,
}

impl Cuts {
    /// True when `thumb` (a [`THUMB`]-sized R, G, B planes thumbnail of the current frame, values
    /// 0..1) starts a new shot. The first frame does not.
    pub(crate) fn is_cut(&mut self, thumb: &[f32]) -> bool {
        let Some(current) = normalised(thumb) else {
            return false;
        };
        let cut = self.reference.as_ref().is_some_and(|r| {
            let correlation =
                r.iter().zip(&current).map(|(a, b)| a * b).sum::<f32>() / current.len() as f32;
            correlation < CUT_CORRELATION
        });
        self.reference = Some(current);
        cut
    }
}

/// The lip-sync blend weight: 0 while no face is shown; with a face, rising over `fade_in`
/// frames while its speaker speaks and falling over as many when they stop (a face without a
/// speakers file always speaks). Counts frames on the render's own clock, so a segment's
/// warm-up frames bring it to the whole render's value.
#[derive(Debug, Default)]
pub(crate) struct Fade {
    /// Steps of the fade reached, 0..=fade_in.
    level: u32,
}

impl Fade {
    /// Advances one frame (`face`: a face is shown; `speaking`: its speaker speaks); returns
    /// the weight for it.
    pub(crate) fn step(&mut self, face: bool, speaking: bool, fade_in: u32) -> f32 {
        let fade_in = fade_in.max(1);
        self.level = match (face, speaking) {
            (false, _) => 0,
            (true, true) => (self.level + 1).min(fade_in),
            (true, false) => self.level.saturating_sub(1),
        };
        self.level as f32 / fade_in as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(rect: [f32; 4]) -> Face {
        Face {
            rect,
            score: 0.99,
            landmarks: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn each_selection_picks_its_face() {
        // A big face on the left, a small one right of centre.
        let faces = [
            face([10.0, 10.0, 110.0, 130.0]),
            face([170.0, 40.0, 230.0, 110.0]),
        ];
        let pick = |s, followed| choose(&faces, s, (300, 200), followed).map(|f| f.rect[0]);
        assert_eq!(pick(FaceSelect::Largest, None), Some(10.0));
        assert_eq!(pick(FaceSelect::Center, None), Some(170.0));
        assert_eq!(pick(FaceSelect::Nearest([20.0, 150.0]), None), Some(10.0));
        assert_eq!(pick(FaceSelect::Track, None), Some(10.0));
        // Tracking the small one, moved a little: still the small one.
        assert_eq!(
            pick(FaceSelect::Track, Some([165.0, 45.0, 228.0, 112.0])),
            Some(170.0)
        );
        // Its box far from every face found: nobody (the followed face is hidden).
        assert_eq!(
            pick(FaceSelect::Track, Some([260.0, 150.0, 290.0, 190.0])),
            None
        );
        assert_eq!(choose(&[], FaceSelect::Largest, (300, 200), None), None);
    }

    #[test]
    fn face_select_reads_names_and_points_and_names_the_choices() {
        let parse = |s: &str| -> Result<FaceSelect, String> {
            #[derive(Deserialize)]
            struct T {
                face_select: FaceSelect,
            }
            toml::from_str::<T>(&format!("face_select = {s}"))
                .map(|t| t.face_select)
                .map_err(|e| e.to_string())
        };
        assert_eq!(parse("\"track\""), Ok(FaceSelect::Track));
        assert_eq!(
            parse("[640, 360.5]"),
            Ok(FaceSelect::Nearest([640.0, 360.5]))
        );
        for bad in ["\"biggest\"", "[1, 2, 3]", "5"] {
            let e = parse(bad).expect_err(bad);
            assert!(
                e.contains("\"largest\", \"center\", \"track\""),
                "{bad}: {e}"
            );
        }
    }

    /// A thumbnail of a diagonal gradient at `gain` and `offset`, or its mirror.
    fn thumb(gain: f32, offset: f32, mirrored: bool) -> Vec<f32> {
        let (w, h) = (THUMB.0 as usize, THUMB.1 as usize);
        let mut t = Vec::new();
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let x = if mirrored { w - 1 - x } else { x };
                    let v =
                        (x as f32 / w as f32) * 0.6 + (y as f32 / h as f32) * 0.3 + 0.03 * c as f32;
                    t.push(offset + gain * v);
                }
            }
        }
        t
    }

    #[test]
    fn a_cut_is_a_new_picture_and_a_fade_is_not() {
        let mut cuts = Cuts::default();
        assert!(!cuts.is_cut(&thumb(1.0, 0.0, false)), "the first frame");
        // Fading out to black and back in: no cut.
        for gain in [0.8, 0.4, 0.1, 0.0, 0.0, 0.3, 0.9, 1.0] {
            assert!(
                !cuts.is_cut(&thumb(gain, 0.02 * gain, false)),
                "fade at {gain}"
            );
        }
        // Another picture: a cut, once.
        assert!(cuts.is_cut(&thumb(1.0, 0.0, true)));
        assert!(!cuts.is_cut(&thumb(1.0, 0.0, true)));
    }

    #[test]
    fn the_weight_fades_in_and_drops_with_the_face() {
        let mut fade = Fade::default();
        let steps: Vec<f32> = [true, true, true, true, true, false, true]
            .into_iter()
            .map(|f| fade.step(f, true, 4))
            .collect();
        assert_eq!(steps, [0.25, 0.5, 0.75, 1.0, 1.0, 0.0, 0.25]);
        assert_eq!(Fade::default().step(true, true, 1), 1.0);
    }

    #[test]
    fn the_weight_follows_the_speakers_turns_both_ways() {
        let mut fade = Fade::default();
        let steps: Vec<f32> = [true, true, true, false, false, false, true]
            .into_iter()
            .map(|speaking| fade.step(true, speaking, 2))
            .collect();
        assert_eq!(steps, [0.5, 1.0, 1.0, 0.5, 0.0, 0.0, 0.5]);
    }
}
