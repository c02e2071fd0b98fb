//! K-weighting (ITU-R BS.1770) for the momentary loudness.

/// A biquad in transposed direct form II.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn process(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// The two-stage K-weighting filter of BS.1770 for any sample rate: a high shelf (+4 dB above
/// ~1.7 kHz, the head) and a high pass at ~38 Hz (RLB). Coefficients follow the analogue
/// prototypes used by libebur128 and pyloudnorm, mapped with the bilinear transform.
#[derive(Debug, Clone)]
pub struct KWeighting {
    shelf: Biquad,
    highpass: Biquad,
}

impl KWeighting {
    pub fn new(sample_rate: u32) -> Self {
        let fs = f64::from(sample_rate.max(1));
        // Corner frequencies stay below Nyquist (at very low sample rates the shelf would sit
        // above it and the bilinear transform would give an unstable filter).
        let corner = |f: f64| f.min(0.45 * fs);
        // High shelf.
        let (f0, gain_db, q) = (
            corner(1681.974450955533),
            3.999843853973347,
            0.7071752369554196,
        );
        let k = (std::f64::consts::PI * f0 / fs).tan();
        let vh = 10f64.powf(gain_db / 20.0);
        let vb = vh.powf(0.4996667741545416);
        let a0 = 1.0 + k / q + k * k;
        let shelf = Biquad {
            b: [
                (vh + vb * k / q + k * k) / a0,
                2.0 * (k * k - vh) / a0,
                (vh - vb * k / q + k * k) / a0,
            ],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
            z: [0.0; 2],
        };
        // High pass.
        let (f0, q) = (corner(38.13547087602444), 0.5003270373238773);
        let k = (std::f64::consts::PI * f0 / fs).tan();
        let a0 = 1.0 + k / q + k * k;
        let highpass = Biquad {
            b: [1.0, -2.0, 1.0],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
            z: [0.0; 2],
        };
        Self { shelf, highpass }
    }

    pub fn process(&mut self, x: f32) -> f32 {
        let y = self.highpass.process(self.shelf.process(f64::from(x)));
        if y.is_finite() {
            y as f32
        } else {
            // Never let a non-finite value poison the loudness: restart the filter.
            self.shelf.z = [0.0; 2];
            self.highpass.z = [0.0; 2];
            0.0
        }
    }
}

/// BS.1770 channel weight for channel `index` of `channels` (surrounds of 5.1 weigh 1.41, LFE 0).
pub fn channel_weight(index: usize, channels: usize) -> f32 {
    match (channels, index) {
        (6, 3) => 0.0,
        (6, 4) | (6, 5) => 1.41,
        _ => 1.0,
    }
}
