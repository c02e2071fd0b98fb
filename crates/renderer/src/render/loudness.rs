//! Loudness normalisation of the output's audio track (`loudness = -16`, `--loudness`). The
//! rendered section is measured first (EBU R128, [`audio::measure_loudness`]). Where the gain to
//! the target keeps the true peak under the ceiling, the track is scaled by it (linear: the
//! dynamics untouched). Where it would not, the scaled track goes through a peak limiter at 4x
//! the rate (`alimiter` between two resamplings: a true-peak limiter) and the gain is corrected
//! by what limiting took, measured by ffmpeg's `ebur128` on the filtered section (at most two
//! corrections). The ceiling is aimed 0.5 dB low, room for the AAC encoder's overshoot. The
//! finished file's track is measured again (by ffmpeg) for the summary.

use std::path::Path;

use audio::LoudnessStats;
use media::AudioInput;

use crate::RenderError;
use crate::job::Job;

/// Room left under the ceiling for the encoder, dB.
const MARGIN_DB: f64 = 0.5;

/// The filter chain: `gain` dB, then (when `limit` is given, dBTP) a true-peak limiter.
fn chain(gain: f64, limit: Option<f64>) -> String {
    match limit {
        None => format!("volume={gain:.3}dB"),
        Some(l) => format!(
            "volume={gain:.3}dB,aresample=192000,alimiter=limit={:.5}:attack=1:release=60:\
             level=0:asc=0,aresample=48000",
            10f64.powf(l / 20.0).clamp(0.0625, 1.0)
        ),
    }
}

/// The measured input and the filter for `seconds` of `job`'s audio, or `None` where the job
/// asks for no normalisation (or the audio is silent: nothing to scale).
pub(crate) fn plan(
    job: &Job,
    seconds: f64,
) -> Result<Option<(LoudnessStats, String)>, RenderError> {
    let Some(target) = job.loudness else {
        return Ok(None);
    };
    let m = audio::measure_loudness(&job.audio, job.start, Some(seconds))?;
    if !m.integrated.is_finite() || !m.true_peak.is_finite() {
        log::warn!(
            "{}: the audio is silent; loudness = {} has nothing to normalise",
            job.audio.display(),
            target.0
        );
        return Ok(None);
    }
    let ceiling = (job.true_peak.0 - MARGIN_DB).max(-12.0);
    let mut gain = target.0 - m.integrated;
    let filter = if m.true_peak + gain <= ceiling {
        chain(gain, None)
    } else {
        // Limiting lowers the loudness a little: measure and correct the gain.
        let mut input = AudioInput {
            path: job.audio.clone(),
            start: job.start,
            duration: seconds,
            filter: Some(chain(gain, Some(ceiling))),
        };
        for _ in 0..2 {
            let (got, _) = media::filtered_loudness(&input)?;
            if !got.is_finite() || (target.0 - got).abs() < 0.15 {
                break;
            }
            gain += target.0 - got;
            input.filter = Some(chain(gain, Some(ceiling)));
        }
        input.filter.unwrap_or_default()
    };
    log::info!(
        "{}: {:.1} LUFS, {:.1} dBTP; normalised to {:.1} LUFS under {:.1} dBTP ({:+.1} dB{})",
        job.audio.display(),
        m.integrated,
        m.true_peak,
        target.0,
        job.true_peak.0,
        gain,
        if filter.contains("alimiter") {
            ", peaks limited"
        } else {
            ""
        }
    );
    Ok(Some((m, filter)))
}

/// The integrated loudness of a finished file's audio track, by ffmpeg's `ebur128` (a check
/// independent of our own measurement). None where it cannot be measured.
pub(crate) fn measure_output(path: &Path, seconds: f64) -> Option<f64> {
    let output = AudioInput {
        path: path.to_owned(),
        start: 0.0,
        duration: seconds,
        filter: None,
    };
    match media::filtered_loudness(&output) {
        Ok((i, _)) if i.is_finite() => Some(i),
        Ok(_) => None,
        Err(e) => {
            log::warn!("cannot measure the output's loudness: {e}");
            None
        }
    }
}
