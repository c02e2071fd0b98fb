//! Unit tests of `mel`.

use super::*;

#[test]
fn mel_scale_round_trips_and_is_continuous_at_1khz() {
    for hz in [0.0, 55.0, 999.0, 1000.0, 1001.0, 4000.0, 7600.0] {
        assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
    }
    assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    assert!((hz_to_mel(999.999_999) - hz_to_mel(1000.0)).abs() < 1e-6);
    // 27 mels per factor 6.4 above 1 kHz.
    assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9);
}

#[test]
fn filterbank_bands_have_unit_area_in_hz() {
    let bank = mel_filterbank();
    assert_eq!(bank.len(), N_MELS * N_BINS);
    for (m, row) in bank.chunks_exact(N_BINS).enumerate() {
        // Sum of weights * bin width (20 Hz) approximates the triangle's area, 1 (a narrow
        // band is sampled too coarsely for this at low frequencies, so only the upper half).
        let area: f64 = row.iter().map(|&w| f64::from(w) * 20.0).sum();
        if m >= 40 {
            assert!((area - 1.0).abs() < 0.02, "band {m}: {area}");
        }
        assert!(row.iter().all(|&w| w >= 0.0));
    }
    // Nothing below 55 Hz or above 7600 Hz.
    let bins_below = (55.0f64 / 20.0).floor() as usize;
    let bins_above = (7600.0f64 / 20.0).ceil() as usize;
    for row in bank.chunks_exact(N_BINS) {
        assert!(row[..=bins_below].iter().all(|&w| w == 0.0));
        assert!(row[bins_above..].iter().all(|&w| w == 0.0));
    }
}

#[test]
fn reflect_matches_numpy() {
    // np.pad(np.arange(3), 7, mode='reflect')
    let want = [1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1];
    let got: Vec<usize> = (-7..10).map(|i| reflect(i, 3)).collect();
    assert_eq!(got, want);
    assert_eq!(reflect(-5, 1), 0);
}

#[test]
fn frame_count_and_silence() {
    for (n, t) in [
        (0, 1),
        (1, 1),
        (199, 1),
        (200, 2),
        (16_000, 81),
        (16_199, 81),
    ] {
        let mel = mel_from_16k(&vec![0.0; n]);
        assert_eq!(mel.frames, t, "{n} samples");
        assert_eq!(mel.data.len(), N_MELS * t);
        assert!(mel.data.iter().all(|&v| v == MIN_VALUE));
    }
}

#[test]
fn loud_tone_lights_its_band() {
    // 1 kHz at full scale: the band whose centre is nearest 1 kHz is the loudest.
    let x: Vec<f32> = (0..16_000)
        .map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 16_000.0).sin() as f32)
        .collect();
    let mel = mel_from_16k(&x);
    let t = mel.frames / 2;
    let (best, _) = (0..N_MELS)
        .map(|m| (m, mel.value(m, t)))
        .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
    let (min_mel, max_mel) = (hz_to_mel(FMIN), hz_to_mel(FMAX));
    let centre = |m: usize| mel_to_hz(min_mel + (m + 1) as f64 * (max_mel - min_mel) / 81.0);
    assert!(
        (centre(best) - 1000.0).abs() < 60.0,
        "band {best} at {} Hz",
        centre(best)
    );
    assert!(mel.value(best, t) > 0.0);
}

#[test]
fn invalid_rates_are_errors() {
    for rate in [0, MAX_INPUT_RATE + 1] {
        let err = resample_to_16k(&[0.0; 10], rate).unwrap_err().to_string();
        assert!(err.contains(&rate.to_string()), "{err}");
    }
}

#[test]
fn short_spectrogram_windows_are_left_padded() {
    let frames = 5;
    let data: Vec<f32> = (0..N_MELS * frames).map(|i| i as f32 / 1000.0).collect();
    let mel = MelSpectrogram { frames, data };
    let w = frame_windows(&mel, 25.0, 3);
    assert_eq!(w.len(), 3 * N_MELS * WINDOW_FRAMES);
    for i in 0..3 {
        for m in 0..N_MELS {
            let row = &w[(i * N_MELS + m) * WINDOW_FRAMES..][..WINDOW_FRAMES];
            assert!(row[..11].iter().all(|&v| v == MIN_VALUE));
            assert_eq!(&row[11..], &mel.data[m * frames..(m + 1) * frames]);
        }
    }
}
