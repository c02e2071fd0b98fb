//! The pieces every checkpoint format shares: a bounded little-endian byte reader, the element
//! types (PyTorch storages and safetensors dtypes alike) decoded to `f32`, and the copy of a
//! possibly strided tensor out of its storage's bytes into a contiguous row-major [`Tensor`],
//! with an element budget so that a small file cannot ask for gigabytes.

use super::{Fail, Tensor, bad};

/// Copies up to `N` bytes into an array (zero-filled if `b` is shorter; never panics).
pub(super) fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}

/// Reads little-endian fields from a byte slice, failing (never panicking) at its end.
pub(super) struct Reader<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], Fail> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(bad(format!(
                "the data ends early: {n} bytes needed at byte {} of {}",
                self.pos,
                self.data.len()
            ))),
        }
    }

    pub(super) fn u8(&mut self) -> Result<u8, Fail> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    pub(super) fn u16(&mut self) -> Result<u16, Fail> {
        Ok(u16::from_le_bytes(le(self.take(2)?)))
    }

    pub(super) fn u32(&mut self) -> Result<u32, Fail> {
        Ok(u32::from_le_bytes(le(self.take(4)?)))
    }

    pub(super) fn i32(&mut self) -> Result<i32, Fail> {
        Ok(i32::from_le_bytes(le(self.take(4)?)))
    }

    pub(super) fn u64(&mut self) -> Result<u64, Fail> {
        Ok(u64::from_le_bytes(le(self.take(8)?)))
    }

    /// A length field, checked against the bytes left.
    pub(super) fn len(&mut self, n: u64) -> Result<&'a [u8], Fail> {
        let n = usize::try_from(n).map_err(|_| bad("a length field is too large"))?;
        self.take(n)
    }

    pub(super) fn line(&mut self) -> Result<&'a str, Fail> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad(format!("unterminated GLOBAL name at byte {}", self.pos)))?;
        let s = self.take(n + 1)?;
        std::str::from_utf8(&s[..n])
            .map_err(|_| bad(format!("GLOBAL name at byte {} is not UTF-8", self.pos)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    pub(super) fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// Decodes one little-endian element (`b` holds exactly `self.size()` bytes).
    pub(super) fn decode(self, b: &[u8]) -> f32 {
        match self {
            DType::F64 => f64::from_le_bytes(le(b)) as f32,
            DType::F32 => f32::from_le_bytes(le(b)),
            DType::F16 => f16_to_f32(u16::from_le_bytes(le(b))),
            DType::BF16 => f32::from_bits(u32::from(u16::from_le_bytes(le(b))) << 16),
            DType::I64 => i64::from_le_bytes(le(b)) as f32,
            DType::I32 => i32::from_le_bytes(le(b)) as f32,
            DType::I16 => f32::from(i16::from_le_bytes(le(b))),
            DType::I8 => f32::from(i8::from_le_bytes(le(b))),
            DType::U8 => f32::from(u8::from_le_bytes(le(b))),
            DType::Bool => f32::from(u8::from(b.first().is_some_and(|&v| v != 0))),
        }
    }
}

/// IEEE 754 binary16 to binary32 (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m * 2^-24, exactly representable in f32.
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// A storage as a persistent id names it: the key of its data, its element type, and (for a
/// legacy storage view) the element range of the root storage it covers.
#[derive(Debug, Clone)]
pub(super) struct StorageRef {
    pub(super) key: String,
    pub(super) dtype: DType,
    pub(super) offset: usize,
    pub(super) numel: usize,
}

/// A tensor as `_rebuild_tensor_v2` describes it.
#[derive(Debug, Clone)]
pub(super) struct TensorRef {
    pub(super) storage: StorageRef,
    pub(super) offset: usize,
    pub(super) shape: Vec<usize>,
    pub(super) stride: Vec<usize>,
}

/// Copies a (possibly strided) tensor out of its storage's raw bytes. `budget` bounds the total
/// number of elements produced (so that a tiny file cannot ask for gigabytes).
pub(super) fn materialise(t: &TensorRef, bytes: &[u8], budget: &mut usize) -> Result<Tensor, Fail> {
    let s = &t.storage;
    let es = s.dtype.size();
    let available = bytes.len() / es;
    let view_end = s.offset.checked_add(s.numel);
    if view_end.is_none_or(|end| end > available) {
        return Err(bad(format!(
            "storage '{}' should hold {} elements from element {} but its data has only {available}",
            s.key, s.numel, s.offset
        )));
    }
    let numel = t
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("tensor shape {:?} overflows", t.shape)))?;
    if numel > *budget {
        return Err(bad(format!(
            "tensor shape {:?} asks for {numel} elements, more than the file can describe",
            t.shape
        )));
    }
    *budget -= numel;
    if numel == 0 {
        return Ok(Tensor {
            shape: t.shape.clone(),
            data: Vec::new(),
        });
    }
    // Strides of size-1 dimensions are irrelevant (and may be anything): zero them.
    let stride: Vec<usize> = t
        .shape
        .iter()
        .zip(&t.stride)
        .map(|(&n, &st)| if n == 1 { 0 } else { st })
        .collect();
    let last = t
        .shape
        .iter()
        .zip(&stride)
        .try_fold(t.offset, |acc, (&n, &st)| {
            (n - 1).checked_mul(st).and_then(|x| acc.checked_add(x))
        });
    if last.is_none_or(|l| l >= s.numel) {
        return Err(bad(format!(
            "tensor of shape {:?}, strides {:?} at offset {} reaches past the {} elements of storage '{}'",
            t.shape, t.stride, t.offset, s.numel, s.key
        )));
    }
    let base = s.offset + t.offset;
    let mut data = Vec::with_capacity(numel);
    let mut contiguous = true;
    let mut expect = 1usize;
    for (&n, &st) in t.shape.iter().zip(&stride).rev() {
        if n > 1 && st != expect {
            contiguous = false;
        }
        expect *= n;
    }
    if contiguous {
        let run = bytes
            .get(base * es..(base + numel) * es)
            .ok_or_else(|| bad("tensor data out of range"))?;
        data.extend(run.chunks_exact(es).map(|b| s.dtype.decode(b)));
    } else {
        let nd = t.shape.len();
        let mut idx = vec![0usize; nd];
        let mut pos = base;
        for _ in 0..numel {
            let b = bytes
                .get(pos * es..pos * es + es)
                .ok_or_else(|| bad("tensor data out of range"))?;
            data.push(s.dtype.decode(b));
            let mut d = nd;
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                pos += stride[d];
                if idx[d] < t.shape[d] {
                    break;
                }
                pos -= stride[d] * t.shape[d];
                idx[d] = 0;
            }
        }
    }
    Ok(Tensor {
        shape: t.shape.clone(),
        data,
    })
}

/// The element budget for a file of `len` bytes: generous enough for views that share storage.
pub(super) fn element_budget(len: usize) -> usize {
    len.saturating_mul(8).saturating_add(1 << 20)
}

pub(super) fn strip_module(key: &str) -> String {
    key.strip_prefix("module.").unwrap_or(key).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert_exactly() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x0001, 2f32.powi(-24)),
            (0x8001, -(2f32.powi(-24))),
            (0x7bff, 65504.0),
            (0x0000, 0.0),
            (0x7c00, f32::INFINITY),
            (0xfc00, f32::NEG_INFINITY),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#06x}");
        }
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(DType::BF16.decode(&0xc040u16.to_le_bytes()), -3.0);
        assert_eq!(DType::Bool.decode(&[2]), 1.0);
    }

    fn f32_storage(values: &[f32], numel: usize) -> (StorageRef, Vec<u8>) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let storage = StorageRef {
            key: "0".into(),
            dtype: DType::F32,
            offset: 0,
            numel,
        };
        (storage, bytes)
    }

    /// A transposed view comes out contiguous; a view reaching past its storage, or asking for
    /// more elements than the budget allows, is refused.
    #[test]
    fn strided_views_are_copied_or_refused() {
        let (storage, bytes) = f32_storage(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 6);
        let view = |shape: Vec<usize>, stride: Vec<usize>, offset| TensorRef {
            storage: storage.clone(),
            offset,
            shape,
            stride,
        };
        let mut budget = 100;
        let t =
            materialise(&view(vec![3, 2], vec![1, 3], 0), &bytes, &mut budget).expect("in range");
        assert_eq!(t.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(budget, 94);
        let t = materialise(&view(vec![2], vec![1], 4), &bytes, &mut budget).expect("in range");
        assert_eq!(t.data, vec![4.0, 5.0]);
        assert!(materialise(&view(vec![2], vec![1], 5), &bytes, &mut budget).is_err());
        assert!(materialise(&view(vec![3, 2], vec![2, 1], 0), &bytes, &mut 5).is_err());
    }
}
