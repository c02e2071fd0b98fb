// Scalar audio features of one frame.
// Host mirror: crates/audio/src/features.rs (`FrameFeatures`); a test in crates/gpu checks that
// sizes and offsets agree. Levels are 0..1 unless noted.

struct FrameFeatures {
    // Time of the frame in the audio file, seconds.
    time: f32,
    // Index of the frame counted from the first analysed frame (warm-up frames included); a
    // frame's number on the audio's frame grid is FrameUniforms.frame_index.
    frame: u32,
    // RMS and peak of the mono mix over the spectrum window.
    rms: f32,
    peak: f32,
    // BS.1770 momentary loudness (400 ms, centred), LUFS; -120 for silence.
    loudness_lufs: f32,
    // Left / right channel levels over the same window (floor -> 0, 0 dBFS -> 1).
    level_left: f32,
    level_right: f32,
    // Spectral-flux onset strength, 0..1.
    onset: f32,
    // 1 on the frame nearest a beat, else 0.
    beat: f32,
    // 1 at a beat, decaying (120 ms) until the next.
    beat_pulse: f32,
    // Tempo estimate, beats per minute (0 until two beats were seen).
    bpm: f32,
    // Smoothed energies of 20-250 Hz, 250 Hz-4 kHz, 4-16 kHz.
    bass: f32,
    mid: f32,
    treble: f32,
    _pad0: f32,
    _pad1: f32,
};
