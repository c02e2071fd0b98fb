//! Safetensors: an 8-byte little-endian header length, a JSON header mapping each key to its
//! dtype, shape and `data_offsets` in the data section, then the data. The reader checks every
//! offset pair against the data section and the shape times the dtype's size against the
//! pair's length, and converts through the shared element types; the writer emits F32 with
//! sorted keys and the header padded to 8 bytes.
//!
//! The `safetensors` crate was weighed and not adopted: it would save about 60 lines, but it
//! refuses files this reader accepts (bytes after the data, gaps between tensors, non-string
//! metadata), names no tensor when a size does not match, and turns an unknown dtype into a
//! JSON error instead of [`super::CheckpointError::Unsupported`] with a hint.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::decode::{
    DType, Reader, StorageRef, TensorRef, element_budget, materialise, strip_module,
};
use super::{CheckpointError, Fail, Tensor, bad};

/// The tensors of a safetensors file (`__metadata__` ignored, a `module.` prefix stripped).
pub(super) fn load(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Fail> {
    let mut r = Reader {
        data: bytes,
        pos: 0,
    };
    let n = r.u64()?;
    let header = r
        .len(n)
        .map_err(|_| bad("the header is longer than the file"))?;
    let body = &bytes[r.pos..];
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(format!("the JSON header: {e}")))?;
    let serde_json::Value::Object(entries) = header else {
        return Err(bad("the JSON header is not an object"));
    };
    let mut budget = element_budget(bytes.len());
    let mut out = BTreeMap::new();
    for (key, info) in &entries {
        if key == "__metadata__" {
            continue;
        }
        let field = |name: &str| {
            info.get(name)
                .ok_or_else(|| bad(format!("tensor '{key}' has no \"{name}\"")))
        };
        let dtype_name = field("dtype")?
            .as_str()
            .ok_or_else(|| bad(format!("tensor '{key}' has a non-string dtype")))?;
        let dtype = dtype_of(dtype_name).ok_or_else(|| Fail::Unsupported {
            what: format!("dtype {dtype_name} (tensor '{key}')"),
            hint: "convert the tensor to F32, F16 or BF16".into(),
        })?;
        let as_usizes = |v: &serde_json::Value, what: &str| -> Result<Vec<usize>, Fail> {
            v.as_array()
                .ok_or_else(|| bad(format!("tensor '{key}': {what} is not an array")))?
                .iter()
                .map(|x| {
                    x.as_u64()
                        .and_then(|x| usize::try_from(x).ok())
                        .ok_or_else(|| bad(format!("tensor '{key}': bad {what}")))
                })
                .collect()
        };
        let shape = as_usizes(field("shape")?, "shape")?;
        let offsets = as_usizes(field("data_offsets")?, "data_offsets")?;
        let [begin, end] = offsets[..] else {
            return Err(bad(format!(
                "tensor '{key}': data_offsets needs two numbers"
            )));
        };
        let raw = body.get(begin..end).ok_or_else(|| {
            bad(format!(
                "tensor '{key}' spans bytes {begin}..{end} of a {}-byte data section",
                body.len()
            ))
        })?;
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n.checked_mul(dtype.size()) == Some(raw.len()))
            .ok_or_else(|| {
                bad(format!(
                    "tensor '{key}' of shape {shape:?} {dtype_name} does not fit its {} bytes",
                    raw.len()
                ))
            })?;
        let storage = StorageRef {
            key: key.clone(),
            dtype,
            offset: 0,
            numel,
        };
        let mut stride = vec![0; shape.len()];
        let mut acc = 1usize;
        for (s, &d) in stride.iter_mut().zip(&shape).rev() {
            *s = acc;
            acc = acc.saturating_mul(d);
        }
        let t = TensorRef {
            storage,
            offset: 0,
            shape,
            stride,
        };
        out.insert(strip_module(key), materialise(&t, raw, &mut budget)?);
    }
    Ok(out)
}

/// The element type of a safetensors dtype name.
fn dtype_of(name: &str) -> Option<DType> {
    Some(match name {
        "F64" => DType::F64,
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "I64" => DType::I64,
        "I32" => DType::I32,
        "I16" => DType::I16,
        "I8" => DType::I8,
        "U8" => DType::U8,
        "BOOL" => DType::Bool,
        _ => return None,
    })
}

/// Writes `tensors` as an F32 safetensors file (keys sorted, header padded to 8 bytes).
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<(), CheckpointError> {
    let mut header = serde_json::Map::new();
    let mut metadata = serde_json::Map::new();
    metadata.insert("format".into(), "pt".into());
    header.insert("__metadata__".into(), metadata.into());
    let mut offset = 0usize;
    for (key, t) in tensors {
        let expected = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if expected != Some(t.data.len()) {
            return Err(CheckpointError::InvalidTensor {
                path: path.to_path_buf(),
                key: key.clone(),
                shape: t.shape.clone(),
                expected: expected.unwrap_or(usize::MAX),
                actual: t.data.len(),
            });
        }
        let end = offset + 4 * t.data.len();
        header.insert(
            key.clone(),
            serde_json::json!({ "dtype": "F32", "shape": t.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut text = serde_json::Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let io = |source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    w.write_all(&(text.len() as u64).to_le_bytes())
        .map_err(io)?;
    w.write_all(text.as_bytes()).map_err(io)?;
    for t in tensors.values() {
        for v in &t.data {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
    }
    w.flush().map_err(io)?;
    Ok(())
}
