//! A full-frame picture drawn on the CPU, for software adapters.
//!
//! A picture that covers the frame and changes every frame (a slow zoom, a beat pulse) is the
//! base pass's most expensive case on a software rasteriser: lavapipe shades every pixel with
//! its generic bilinear sampler (a zooming 1080p cover was ~40% of a six-layer frame). On such
//! an adapter the renderer resamples the picture here instead and uploads the result into the
//! target (`queue.write_texture`), where the blended layers are then drawn over it as before.
//!
//! The arithmetic follows llvmpipe's 8-bit bilinear filter for RGBA8 textures as far as its
//! output shows: the coordinate in texels scaled by 256 and rounded, half a texel subtracted,
//! the integer part picking the texels (clamped to the edge) and the low 8 bits the weight;
//! the lerp along x keeps 8 fractional bits, the one along y rounds them off. What the GPU
//! pass stores (`image.wgsl` with `OUTPUT_ENCODED`: the encoded bytes, alpha 1) is matched to
//! within one level, 85% of bytes exactly (tests/render.rs compares the two on lavapipe).
//! `RENDERER_CPU_PICTURE=0` keeps the GPU pass.

use crate::ImageParams;

/// The source picture: sRGB-encoded RGBA8, row-major, as the layer's texture holds it.
#[derive(Debug)]
pub(super) struct CpuPicture {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) pixels: Vec<u8>,
}

/// Where an output row or column samples: two texel indices and the second one's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    first: u32,
    second: u32,
    weight: i32,
}

/// llvmpipe's linear-filter tap for texture coordinate `coord` (0..1 across `size` texels),
/// clamped to the edge.
fn tap(coord: f32, size: u32) -> Tap {
    // Rounded to 1/256 texel, then -0.5 texel in fixed point, then floor (arithmetic shift).
    let fixed = (coord * size as f32 * 256.0).round() as i32 - 128;
    let index = fixed >> 8;
    let last = size as i32 - 1;
    Tap {
        first: index.clamp(0, last) as u32,
        second: (index + 1).clamp(0, last) as u32,
        weight: fixed & 255,
    }
}

/// Along x: an 8-bit texel pair to a value with 8 fractional bits, `a * (256 - w) + b * w`
/// (at most 255 * 256: 16-bit products and sum, no overflow).
#[inline(always)]
fn lerp_x(a: u8, b: u8, w: i32) -> u16 {
    u16::from(a) * (256 - w) as u16 + u16::from(b) * w as u16
}

/// Along y: two values with 8 fractional bits to the 8-bit result (rounded to nearest), for
/// weights 1..=255 given as `wa = (256 - w) << 8` and `wb = w << 8`. The high halves of
/// unsigned 16x16-bit products keep it in 16-bit lanes (SSE2's `pmulhuw`, eight at a time).
#[inline(always)]
fn lerp_y(a: u16, b: u16, wa: u16, wb: u16) -> u8 {
    let high = |v: u16, w: u16| ((u32::from(v) * u32::from(w)) >> 16) as u16;
    // a * (256 - w) / 256 + b * w / 256, each rounded down, in 1/256 of a level.
    ((high(a, wa) + high(b, wb) + 128) >> 8) as u8
}

/// The taps of each of `n` output pixels along one axis: pixel centre `i + 0.5` maps to the
/// layer's local coordinate `(centre - origin) / extent`, then to `uv_origin + local * uv_extent`.
fn taps(n: u32, origin: f32, extent: f32, uv_origin: f32, uv_extent: f32, size: u32) -> Vec<Tap> {
    (0..n)
        .map(|i| {
            let local = (i as f32 + 0.5 - origin) / extent.max(1e-6);
            tap(uv_origin + local * uv_extent, size)
        })
        .collect()
}

impl CpuPicture {
    /// Resamples the picture as `params` places it into `out`, a tightly packed RGBA8 frame of
    /// `width` x `height`, alpha 255. `rows` is scratch space reused between frames.
    pub(super) fn draw(
        &self,
        params: &ImageParams,
        (width, height): (u32, u32),
        out: &mut Vec<u8>,
        rows: &mut [Vec<u16>; 2],
    ) {
        let [rx, ry, rw, rh] = params.rect;
        let [u0, v0, su, sv] = params.uv_transform;
        let xs = taps(width, rx, rw, u0, su, self.width);
        let ys = taps(height, ry, rh, v0, sv, self.height);
        let stride = self.width as usize * 4;
        let row_bytes = width as usize * 4;
        out.resize(row_bytes * height as usize, 0);
        for r in rows.iter_mut() {
            r.resize(row_bytes, 0);
        }
        // The source rows the two scratch rows hold, filtered along x.
        let mut held: [Option<u32>; 2] = [None, None];
        let filter_row = |source: u32, dst: &mut [u16]| {
            let src = &self.pixels[source as usize * stride..][..stride];
            for (px, t) in dst.chunks_exact_mut(4).zip(&xs) {
                let a = &src[t.first as usize * 4..][..4];
                let b = &src[t.second as usize * 4..][..4];
                for c in 0..4 {
                    px[c] = lerp_x(a[c], b[c], t.weight);
                }
            }
        };
        for (line, t) in out.chunks_exact_mut(row_bytes).zip(&ys) {
            // Reuse a held row (consecutive output rows share source rows when magnifying).
            let want = [t.first, t.second];
            if held != [Some(want[0]), Some(want[1])] {
                if held[1] == Some(want[0]) {
                    rows.swap(0, 1);
                    held[0] = held[1];
                } else if held[0] != Some(want[0]) {
                    filter_row(want[0], &mut rows[0]);
                    held[0] = Some(want[0]);
                }
                if want[1] == want[0] {
                    let (first, second) = rows.split_at_mut(1);
                    second[0].copy_from_slice(&first[0]);
                } else {
                    filter_row(want[1], &mut rows[1]);
                }
                held[1] = Some(want[1]);
            }
            // Alpha needs no fix-up: a base picture is opaque, and lerps of 255 give 255.
            if t.weight == 0 {
                for (o, &a) in line.iter_mut().zip(&rows[0]) {
                    *o = ((a + 128) >> 8) as u8;
                }
            } else {
                let (wa, wb) = (((256 - t.weight) << 8) as u16, (t.weight << 8) as u16);
                for ((o, &a), &b) in line.iter_mut().zip(&rows[0]).zip(&rows[1]) {
                    *o = lerp_y(a, b, wa, wb);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A texel centre gives that texel with weight 0, halfway between two texels weight 128,
    /// outside the picture the edge texel; the lerps keep 8 fractional bits along x and round
    /// half up along y.
    #[test]
    fn taps_follow_the_fixed_point_rule() {
        // Centre of texel 3 of 8: (3.5 / 8).
        assert_eq!(
            tap(3.5 / 8.0, 8),
            Tap {
                first: 3,
                second: 4,
                weight: 0
            }
        );
        // Halfway between texels 3 and 4.
        assert_eq!(
            tap(4.0 / 8.0, 8),
            Tap {
                first: 3,
                second: 4,
                weight: 128
            }
        );
        assert_eq!(tap(-0.5, 8).first, 0);
        assert_eq!(tap(-0.5, 8).second, 0);
        assert_eq!(tap(1.5, 8).first, 7);
        assert_eq!(tap(1.5, 8).second, 7);
        // Halfway between 10 and 21 is 15.5: kept along x, rounded along y (half up).
        assert_eq!(lerp_x(10, 21, 128), 15 * 256 + 128);
        let w = |w: u16| ((256 - w) << 8, w << 8);
        let (half, quarter) = (w(128), w(64));
        assert_eq!(lerp_y(10 * 256, 21 * 256, half.0, half.1), 16);
        assert_eq!(lerp_y(21 * 256, 10 * 256, half.0, half.1), 16);
        // A quarter of the way from 10 to 20 is 12.5 -> 13; from 20 to 10, 17.5 -> 18.
        assert_eq!(lerp_y(10 * 256, 20 * 256, quarter.0, quarter.1), 13);
        assert_eq!(lerp_y(20 * 256, 10 * 256, quarter.0, quarter.1), 18);
    }

    /// A picture drawn 1:1 (one texel per pixel, aligned) comes back unchanged, and a 2x
    /// magnification of a two-texel ramp interpolates between them with the edges clamped.
    #[test]
    fn identity_and_magnification() {
        let (w, h) = (5u32, 3u32);
        // Opaque, as base pictures are.
        let pixels: Vec<u8> = (0..w * h * 4)
            .map(|i| if i % 4 == 3 { 255 } else { (i * 7 % 256) as u8 })
            .collect();
        let pic = CpuPicture {
            width: w,
            height: h,
            pixels: pixels.clone(),
        };
        let params = ImageParams {
            rect: [0.0, 0.0, w as f32, h as f32],
            uv_transform: [0.0, 0.0, 1.0, 1.0],
            tint: [1.0; 4],
            opacity: 1.0,
            shape: 0,
            corner: 0.0,
            _pad: 0.0,
        };
        let mut out = Vec::new();
        let mut rows = [Vec::new(), Vec::new()];
        pic.draw(&params, (w, h), &mut out, &mut rows);
        assert_eq!(out, pixels);

        let ramp = CpuPicture {
            width: 2,
            height: 1,
            pixels: vec![0, 0, 0, 255, 200, 100, 40, 255],
        };
        let params = ImageParams {
            rect: [0.0, 0.0, 4.0, 1.0],
            ..params
        };
        ramp.draw(&params, (4, 1), &mut out, &mut rows);
        let red: Vec<u8> = out.chunks_exact(4).map(|p| p[0]).collect();
        // Pixel centres at texel 0.25, 0.75, 1.25, 1.75 - 0.5: clamped, 1/4, 3/4, clamped.
        assert_eq!(red, vec![0, 50, 150, 200]);
    }
}
