//! Time-constant smoothing and peak hold, defined in seconds so results do not depend on fps.

/// Asymmetric one-pole smoothing: rises with the attack time constant, falls with the release
/// time constant. The step for an interval `dt` is exact for the continuous filter, so sampling
/// the same signal at 24, 30 or 60 fps traces the same envelope in seconds.
#[derive(Debug, Clone)]
pub struct Smoother {
    attack_s: f32,
    release_s: f32,
    state: Vec<f32>,
}

impl Smoother {
    pub fn new(len: usize, attack_ms: f32, release_ms: f32) -> Self {
        Self {
            attack_s: (attack_ms / 1000.0).max(0.0),
            release_s: (release_ms / 1000.0).max(0.0),
            state: vec![0.0; len],
        }
    }

    /// Advances by `dt` seconds towards `input`, writing the smoothed values to `out`.
    pub fn step(&mut self, input: &[f32], dt: f32, out: &mut [f32]) {
        let k = |tau: f32| {
            if tau <= 0.0 {
                1.0
            } else {
                1.0 - (-dt / tau).exp()
            }
        };
        let (ka, kr) = (k(self.attack_s), k(self.release_s));
        for ((s, &x), o) in self.state.iter_mut().zip(input).zip(out.iter_mut()) {
            let kk = if x > *s { ka } else { kr };
            *s += (x - *s) * kk;
            *o = *s;
        }
    }
}

/// Peak hold: each value jumps up to a new maximum, stays for `hold` seconds, then falls at
/// `fall_per_s` (levels per second) until it meets the signal.
#[derive(Debug, Clone)]
pub struct PeakHold {
    hold_s: f32,
    fall_per_s: f32,
    value: Vec<f32>,
    age: Vec<f32>,
}

impl PeakHold {
    pub fn new(len: usize, hold_ms: f32, fall_per_s: f32) -> Self {
        Self {
            hold_s: (hold_ms / 1000.0).max(0.0),
            fall_per_s: fall_per_s.max(0.0),
            value: vec![0.0; len],
            age: vec![0.0; len],
        }
    }

    pub fn step(&mut self, input: &[f32], dt: f32, out: &mut [f32]) {
        for (((v, age), &x), o) in self
            .value
            .iter_mut()
            .zip(self.age.iter_mut())
            .zip(input)
            .zip(out.iter_mut())
        {
            *age += dt;
            if x >= *v {
                *v = x;
                *age = 0.0;
            } else if *age > self.hold_s {
                let falling = (*age - self.hold_s).min(dt);
                *v = (*v - self.fall_per_s * falling).max(x);
            }
            *o = *v;
        }
    }
}
