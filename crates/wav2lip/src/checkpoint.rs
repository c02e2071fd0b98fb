//! Tensors from checkpoint files: legacy PyTorch pickles (`wav2lip.pth`, facenet-pytorch's
//! `pnet.pt`), zip-format `torch.save` files and safetensors.
//!
//! [`Checkpoint::load`] sniffs the format from the first bytes:
//! - `PK\x03\x04`: a zip-format torch file (`<top>/data.pkl` plus `<top>/data/<key>` storages);
//! - an 8-byte little-endian header length followed by `{`: safetensors;
//! - anything else: the legacy (pre-1.6) stream of pickles (magic number, protocol version,
//!   system info, the object, the list of storage keys, then each storage's raw elements).
//!
//! The state dict is taken from the top-level dict, or from its `"state_dict"` or `"model"`
//! entry; a leading `module.` (from `DataParallel`) is stripped from every key and non-tensor
//! values are ignored. Every tensor comes out as a contiguous row-major `f32` array whatever
//! its storage type (float, double, half, bfloat16, integer, bool), storage offset and strides.
//!
//! The pickle reader is a small iterative virtual machine that knows only the handful of
//! Python callables `torch.save` emits for tensors and containers (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, the storage types):
//! any other global is refused by name, so loading a file never runs code. Every length read
//! from the file is checked against the file's size before anything is allocated, and
//! malformed input gives an error, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A dense tensor in row-major (C) order, converted to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Extent of each dimension, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The elements in row-major order; `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

/// Where a [`Checkpoint`]'s tensors came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The legacy (pre-1.6) `torch.save` stream of pickles, as `wav2lip.pth` uses.
    LegacyPickle,
    /// The zip-format `torch.save` file (PyTorch 1.6 and later).
    TorchZip,
    /// A safetensors file.
    Safetensors,
    /// Built in memory with [`Checkpoint::from_tensors`].
    InMemory,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::LegacyPickle => "legacy PyTorch (pickle)",
            Format::TorchZip => "zip-format PyTorch",
            Format::Safetensors => "safetensors",
            Format::InMemory => "in-memory",
        })
    }
}

/// What went wrong while reading, querying or writing a checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file could not be read at all.
    #[error("cannot read checkpoint {}: {source}; check the path and its permissions", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file's structure is broken (truncated, corrupt, or not a checkpoint at all).
    #[error(
        "checkpoint {} is not a valid {format} file: {detail}; the file is probably truncated or \
         corrupt, so download or export it again",
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The format the file was read as.
        format: Format,
        /// What is wrong, with the byte offset where known.
        detail: String,
    },
    /// The pickle names a Python global outside the small set a tensor checkpoint needs.
    #[error(
        "checkpoint {} refers to the Python global `{module}.{name}`, which this loader refuses \
         to run (it only rebuilds tensors, storages and plain containers); save the bare state \
         dict instead (`torch.save(model.state_dict(), path)`) or convert the file to safetensors",
        path.display()
    )]
    UnsupportedGlobal {
        /// The file.
        path: PathBuf,
        /// The global's module, e.g. `os`.
        module: String,
        /// The global's name, e.g. `system`.
        name: String,
    },
    /// A well-formed file uses a feature this loader does not implement.
    #[error("checkpoint {} uses {what}, which this loader does not support; {hint}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The feature.
        what: String,
        /// What to do instead.
        hint: String,
    },
    /// The file holds no tensors where a state dict is expected.
    #[error(
        "checkpoint {} holds no tensors: {found}; expected a state dict (a dict of tensors) at the \
         top level or under \"state_dict\" or \"model\"",
        path.display()
    )]
    NoTensors {
        /// The file.
        path: PathBuf,
        /// What the file holds instead.
        found: String,
    },
    /// The checkpoint holds tensors the model does not have (another model's checkpoint).
    #[error(
        "checkpoint {origin} holds {count} tensor(s) the model does not use (e.g. {}); make sure \
         the file is a checkpoint of the expected model",
        examples.join(", ")
    )]
    UnexpectedKeys {
        /// The file the checkpoint was loaded from, or "(in memory)".
        origin: String,
        /// How many keys are unused.
        count: usize,
        /// Up to three of them, quoted.
        examples: Vec<String>,
    },
    /// A tensor holds NaN or an infinity (a diverged training run or a corrupt file).
    #[error(
        "checkpoint {origin}: tensor `{key}` holds a non-finite value ({value}) at index {index}; \
         the weights are unusable: use another checkpoint"
    )]
    NonFinite {
        /// The file the checkpoint was loaded from, or "(in memory)".
        origin: String,
        /// The tensor.
        key: String,
        /// Index of the first bad value.
        index: usize,
        /// The value (NaN, inf or -inf).
        value: f32,
    },
    /// [`Checkpoint::expect`] found no tensor under the key.
    #[error(
        "checkpoint {origin} has no tensor `{key}` (it holds {count} tensors{}); make sure the \
         file is a checkpoint of the expected model",
        similar_list(.similar)
    )]
    MissingKey {
        /// The file the checkpoint was loaded from, or "(in memory)".
        origin: String,
        /// The key asked for.
        key: String,
        /// Up to three keys of the checkpoint that are spelt most like it.
        similar: Vec<String>,
        /// How many tensors the checkpoint holds.
        count: usize,
    },
    /// [`Checkpoint::expect`] found the tensor with another shape.
    #[error(
        "checkpoint {origin}: tensor `{key}` has shape {actual:?} but {expected:?} was expected; \
         the checkpoint belongs to a different model or variant"
    )]
    ShapeMismatch {
        /// The file the checkpoint was loaded from, or "(in memory)".
        origin: String,
        /// The key.
        key: String,
        /// The shape asked for.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        actual: Vec<usize>,
    },
    /// [`write_safetensors`] could not write the file.
    #[error("cannot write safetensors file {}: {source}; check the directory exists and is writable", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// [`write_safetensors`] was given a tensor whose data does not match its shape.
    #[error(
        "cannot write tensor `{key}` to {}: its shape {shape:?} needs {expected} elements but it \
         holds {actual}; fix the tensor before saving",
        path.display()
    )]
    InvalidTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Elements the shape needs.
        expected: usize,
        /// Elements it holds.
        actual: usize,
    },
}

fn similar_list(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = similar.iter().map(|k| format!("`{k}`")).collect();
        format!("; the most similar keys are {}", quoted.join(", "))
    }
}

/// A set of named tensors read from a checkpoint file or built in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    tensors: BTreeMap<String, Tensor>,
    /// The file format the tensors came from.
    pub format: Format,
    origin: Option<PathBuf>,
}

impl Checkpoint {
    /// Reads every tensor of the state dict in `path` (legacy PyTorch, zip-format PyTorch or
    /// safetensors, told apart by the first bytes).
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Reads a checkpoint held in memory; `path` names it in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let format = sniff(bytes);
        let tensors = match format {
            Format::TorchZip => load_zip(bytes),
            Format::Safetensors => load_safetensors(bytes),
            _ => load_legacy(bytes),
        }
        .map_err(|fail| fail.into_error(path, format))?;
        Ok(Checkpoint {
            tensors,
            format,
            origin: Some(path.to_path_buf()),
        })
    }

    /// Wraps tensors built in memory ([`Format::InMemory`]).
    pub fn from_tensors(tensors: BTreeMap<String, Tensor>) -> Checkpoint {
        Checkpoint {
            tensors,
            format: Format::InMemory,
            origin: None,
        }
    }

    /// The tensor under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Tensor> {
        self.tensors.get(key)
    }

    /// The tensor under `key`, which must have exactly `shape` and finite values; the error
    /// names the key, the file and either the most similar keys, both shapes or the bad value.
    pub fn expect(&self, key: &str, shape: &[usize]) -> Result<&Tensor, CheckpointError> {
        match self.tensors.get(key) {
            Some(t) if t.shape == shape => match t.data.iter().position(|v| !v.is_finite()) {
                None => Ok(t),
                Some(index) => Err(CheckpointError::NonFinite {
                    origin: self.origin_name(),
                    key: key.to_string(),
                    index,
                    value: t.data[index],
                }),
            },
            Some(t) => Err(CheckpointError::ShapeMismatch {
                origin: self.origin_name(),
                key: key.to_string(),
                expected: shape.to_vec(),
                actual: t.shape.clone(),
            }),
            None => Err(CheckpointError::MissingKey {
                origin: self.origin_name(),
                key: key.to_string(),
                similar: self.similar_keys(key, 3),
                count: self.tensors.len(),
            }),
        }
    }

    /// Fails when the checkpoint holds keys outside `used` (BatchNorm's `num_batches_tracked`
    /// counters excepted: they are bookkeeping, not weights).
    pub fn expect_only(
        &self,
        used: &std::collections::BTreeSet<String>,
    ) -> Result<(), CheckpointError> {
        let extra: Vec<&String> = self
            .tensors
            .keys()
            .filter(|k| !used.contains(*k) && !k.ends_with("num_batches_tracked"))
            .collect();
        if extra.is_empty() {
            return Ok(());
        }
        Err(CheckpointError::UnexpectedKeys {
            origin: self.origin_name(),
            count: extra.len(),
            examples: extra.iter().take(3).map(|k| format!("`{k}`")).collect(),
        })
    }

    /// The keys, in sorted order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// All tensors by key.
    pub fn tensors(&self) -> &BTreeMap<String, Tensor> {
        &self.tensors
    }

    /// How many tensors the checkpoint holds.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the checkpoint holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    fn origin_name(&self) -> String {
        match &self.origin {
            Some(p) => p.display().to_string(),
            None => "(in memory)".to_string(),
        }
    }

    fn similar_keys(&self, key: &str, n: usize) -> Vec<String> {
        let mut scored: Vec<(usize, &String)> = self
            .tensors
            .keys()
            .map(|k| (edit_distance(key, k), k))
            .collect();
        scored.sort();
        scored.into_iter().take(n).map(|(_, k)| k.clone()).collect()
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
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

// ---------------------------------------------------------------------------------------------
// Format detection and internal errors
// ---------------------------------------------------------------------------------------------

fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PK\x03\x04") {
        return Format::TorchZip;
    }
    if let Some(head) = bytes.get(..8) {
        let n = u64::from_le_bytes(le(head));
        if bytes.get(8) == Some(&b'{') && n <= (bytes.len() - 8) as u64 {
            return Format::Safetensors;
        }
    }
    Format::LegacyPickle
}

/// An internal failure, turned into a [`CheckpointError`] once the path is known.
#[derive(Debug)]
enum Fail {
    Malformed(String),
    Global { module: String, name: String },
    Unsupported { what: String, hint: String },
    NoTensors(String),
}

impl Fail {
    fn into_error(self, path: &Path, format: Format) -> CheckpointError {
        let path = path.to_path_buf();
        match self {
            Fail::Malformed(detail) => CheckpointError::Malformed {
                path,
                format,
                detail,
            },
            Fail::Global { module, name } => {
                CheckpointError::UnsupportedGlobal { path, module, name }
            }
            Fail::Unsupported { what, hint } => CheckpointError::Unsupported { path, what, hint },
            Fail::NoTensors(found) => CheckpointError::NoTensors { path, found },
        }
    }
}

fn bad(detail: impl Into<String>) -> Fail {
    Fail::Malformed(detail.into())
}

/// Copies up to `N` bytes into an array (zero-filled if `b` is shorter; never panics).
fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
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
    fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The dtype of a PyTorch storage class (`FloatStorage`, ...).
    fn from_storage(name: &str) -> Option<DType> {
        Some(match name {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" | "UntypedStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }

    fn from_safetensors(name: &str) -> Option<DType> {
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

    /// Decodes one little-endian element (`b` holds exactly `self.size()` bytes).
    fn decode(self, b: &[u8]) -> f32 {
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

// ---------------------------------------------------------------------------------------------
// Tensor materialisation (strided storage -> contiguous f32)
// ---------------------------------------------------------------------------------------------

/// A storage as a persistent id names it: the key of its data, its element type, and (for a
/// legacy storage view) the element range of the root storage it covers.
#[derive(Debug, Clone)]
struct StorageRef {
    key: String,
    dtype: DType,
    offset: usize,
    numel: usize,
}

/// A tensor as `_rebuild_tensor_v2` describes it.
#[derive(Debug, Clone)]
struct TensorRef {
    storage: StorageRef,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// Copies a (possibly strided) tensor out of its storage's raw bytes. `budget` bounds the total
/// number of elements produced (so that a tiny file cannot ask for gigabytes).
fn materialise(t: &TensorRef, bytes: &[u8], budget: &mut usize) -> Result<Tensor, Fail> {
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
fn element_budget(len: usize) -> usize {
    len.saturating_mul(8).saturating_add(1 << 20)
}

fn strip_module(key: &str) -> String {
    key.strip_prefix("module.").unwrap_or(key).to_string()
}

// ---------------------------------------------------------------------------------------------
// Pickle virtual machine
// ---------------------------------------------------------------------------------------------

type Id = usize;

/// The Python callables a tensor checkpoint may name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Callable {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    TorchSize,
    CodecsEncode,
    StorageType(DType),
}

fn resolve_global(module: &str, name: &str) -> Option<Callable> {
    Some(match (module, name) {
        ("collections", "OrderedDict") => Callable::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Callable::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            Callable::RebuildParameter
        }
        ("torch", "Size") => Callable::TorchSize,
        ("_codecs", "encode") => Callable::CodecsEncode,
        ("torch" | "torch.cuda" | "torch.storage", n) => {
            Callable::StorageType(DType::from_storage(n)?)
        }
        _ => return None,
    })
}

#[derive(Debug, Clone)]
enum Obj {
    None,
    Bool(bool),
    Int(i128),
    Float,
    Str(String),
    Bytes,
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Global(Callable),
    Storage(StorageRef),
    Tensor(TensorRef),
}

impl Obj {
    fn kind(&self) -> &'static str {
        match self {
            Obj::None => "None",
            Obj::Bool(_) => "bool",
            Obj::Int(_) => "int",
            Obj::Float => "float",
            Obj::Str(_) => "str",
            Obj::Bytes => "bytes",
            Obj::Tuple(_) => "tuple",
            Obj::List(_) => "list",
            Obj::Dict(_) => "dict",
            Obj::Global(_) => "global",
            Obj::Storage(_) => "storage",
            Obj::Tensor(_) => "tensor",
        }
    }
}

/// All objects of the pickles read from one file; stack, memo and containers refer to them
/// by index, so shared and mutated objects behave as in Python and nothing is recursive.
#[derive(Debug, Default)]
struct Heap {
    objs: Vec<Obj>,
}

impl Heap {
    fn add(&mut self, o: Obj) -> Id {
        self.objs.push(o);
        self.objs.len() - 1
    }

    fn get(&self, id: Id) -> &Obj {
        self.objs.get(id).unwrap_or(&Obj::None)
    }

    fn str(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    fn int(&self, id: Id) -> Option<i128> {
        match self.get(id) {
            Obj::Int(v) => Some(*v),
            Obj::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }

    fn usize(&self, id: Id, what: &str) -> Result<usize, Fail> {
        self.int(id)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| bad(format!("{what} is not a non-negative integer")))
    }

    fn items(&self, id: Id) -> Option<&[Id]> {
        match self.get(id) {
            Obj::Tuple(v) | Obj::List(v) => Some(v),
            _ => None,
        }
    }

    fn usizes(&self, id: Id, what: &str) -> Result<Vec<usize>, Fail> {
        let items = self
            .items(id)
            .ok_or_else(|| bad(format!("{what} is not a tuple")))?;
        items.iter().map(|&i| self.usize(i, what)).collect()
    }

    /// The value under the string key `key` of a dict (the last one, as Python keeps).
    fn dict_get(&self, id: Id, key: &str) -> Option<Id> {
        match self.get(id) {
            Obj::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| self.str(*k) == Some(key))
                .map(|&(_, v)| v),
            _ => None,
        }
    }
}

/// Reads little-endian fields from a byte slice, failing (never panicking) at its end.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Fail> {
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

    fn u8(&mut self) -> Result<u8, Fail> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u16(&mut self) -> Result<u16, Fail> {
        Ok(u16::from_le_bytes(le(self.take(2)?)))
    }

    fn u32(&mut self) -> Result<u32, Fail> {
        Ok(u32::from_le_bytes(le(self.take(4)?)))
    }

    fn i32(&mut self) -> Result<i32, Fail> {
        Ok(i32::from_le_bytes(le(self.take(4)?)))
    }

    fn u64(&mut self) -> Result<u64, Fail> {
        Ok(u64::from_le_bytes(le(self.take(8)?)))
    }

    /// A length field, checked against the bytes left.
    fn len(&mut self, n: u64) -> Result<&'a [u8], Fail> {
        let n = usize::try_from(n).map_err(|_| bad("a length field is too large"))?;
        self.take(n)
    }

    fn line(&mut self) -> Result<&'a str, Fail> {
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

fn long_int(b: &[u8]) -> Result<i128, Fail> {
    if b.len() > 16 {
        return Err(bad(format!("a {}-byte integer is too large", b.len())));
    }
    let mut v: i128 = 0;
    for (i, &byte) in b.iter().enumerate() {
        v |= i128::from(byte) << (8 * i);
    }
    if let Some(&top) = b.last()
        && top & 0x80 != 0
        && b.len() < 16
    {
        v -= 1i128 << (8 * b.len());
    }
    Ok(v)
}

/// One pickle's interpreter state.
struct Vm<'h, 'd> {
    heap: &'h mut Heap,
    r: Reader<'d>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u32, Id>,
    /// Element type of every storage key seen in a persistent id.
    storages: &'h mut HashMap<String, DType>,
    /// Container cells that calls may still copy: each copy is charged, so re-using one large
    /// memoised tuple many times cannot make time or memory grow quadratically with the file.
    copies_left: usize,
}

impl Vm<'_, '_> {
    fn pop(&mut self, at: usize) -> Result<Id, Fail> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() > floor
            && let Some(id) = self.stack.pop()
        {
            return Ok(id);
        }
        Err(bad(format!("pickle stack underflow at byte {at}")))
    }

    fn top(&self, at: usize) -> Result<Id, Fail> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(&id) if self.stack.len() > floor => Ok(id),
            _ => Err(bad(format!("pickle stack underflow at byte {at}"))),
        }
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Id>, Fail> {
        match self.marks.pop() {
            Some(m) if m <= self.stack.len() => Ok(self.stack.split_off(m)),
            _ => Err(bad(format!("pickle MARK missing at byte {at}"))),
        }
    }

    fn charge(&mut self, cells: usize, at: usize) -> Result<(), Fail> {
        self.copies_left = self
            .copies_left
            .checked_sub(cells)
            .ok_or_else(|| bad(format!("the pickle copies too many objects (at byte {at})")))?;
        Ok(())
    }

    fn push(&mut self, o: Obj) {
        let id = self.heap.add(o);
        self.stack.push(id);
    }

    fn pairs(items: Vec<Id>, at: usize) -> Result<Vec<(Id, Id)>, Fail> {
        if !items.len().is_multiple_of(2) {
            return Err(bad(format!("odd number of dict items at byte {at}")));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    fn extend_list(&mut self, items: Vec<Id>, at: usize) -> Result<(), Fail> {
        let target = self.top(at)?;
        match self.heap.objs.get_mut(target) {
            Some(Obj::List(v)) => {
                v.extend(items);
                Ok(())
            }
            Some(o) => Err(bad(format!("APPEND to a {} at byte {at}", o.kind()))),
            None => Err(bad(format!("APPEND to nothing at byte {at}"))),
        }
    }

    fn extend_dict(&mut self, pairs: Vec<(Id, Id)>, at: usize) -> Result<(), Fail> {
        let target = self.top(at)?;
        match self.heap.objs.get_mut(target) {
            Some(Obj::Dict(v)) => {
                v.extend(pairs);
                Ok(())
            }
            Some(o) => Err(bad(format!("SETITEM on a {} at byte {at}", o.kind()))),
            None => Err(bad(format!("SETITEM on nothing at byte {at}"))),
        }
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), Fail> {
        let c = resolve_global(module, name).ok_or_else(|| Fail::Global {
            module: module.to_string(),
            name: name.to_string(),
        })?;
        self.push(Obj::Global(c));
        Ok(())
    }

    /// REDUCE / NEWOBJ: calls one of the allowed callables.
    fn call(&mut self, f: Id, args: Id, at: usize) -> Result<(), Fail> {
        let c = match self.heap.get(f) {
            Obj::Global(c) => *c,
            o => return Err(bad(format!("call of a {} at byte {at}", o.kind()))),
        };
        let n = self
            .heap
            .items(args)
            .ok_or_else(|| bad(format!("call arguments at byte {at} are not a tuple")))?
            .len();
        self.charge(n, at)?;
        let args: Vec<Id> = self.heap.items(args).unwrap_or(&[]).to_vec();
        let obj = match c {
            Callable::OrderedDict => match args.as_slice() {
                [] => Obj::Dict(Vec::new()),
                [items] => {
                    self.charge(self.heap.items(*items).map_or(0, <[Id]>::len), at)?;
                    let mut pairs = Vec::new();
                    for &p in self.heap.items(*items).unwrap_or(&[]) {
                        match self.heap.items(p) {
                            Some(&[k, v]) => pairs.push((k, v)),
                            _ => return Err(bad(format!("OrderedDict item at byte {at}"))),
                        }
                    }
                    Obj::Dict(pairs)
                }
                _ => return Err(bad(format!("OrderedDict arguments at byte {at}"))),
            },
            Callable::RebuildTensor => {
                let [storage, offset, size, stride, ..] = args.as_slice() else {
                    return Err(bad(format!("too few tensor arguments at byte {at}")));
                };
                let storage = match self.heap.get(*storage) {
                    Obj::Storage(s) => s.clone(),
                    o => {
                        return Err(bad(format!(
                            "tensor at byte {at} is built on a {}, not a storage",
                            o.kind()
                        )));
                    }
                };
                let dims = |id: Id| self.heap.items(id).map_or(0, <[Id]>::len);
                self.charge(dims(*size) + dims(*stride), at)?;
                let offset = self.heap.usize(*offset, "tensor storage offset")?;
                let shape = self.heap.usizes(*size, "tensor size")?;
                let stride = self.heap.usizes(*stride, "tensor stride")?;
                if shape.len() != stride.len() {
                    return Err(bad(format!(
                        "tensor at byte {at} has {} sizes but {} strides",
                        shape.len(),
                        stride.len()
                    )));
                }
                Obj::Tensor(TensorRef {
                    storage,
                    offset,
                    shape,
                    stride,
                })
            }
            Callable::RebuildParameter => match args.first() {
                Some(&t) if matches!(self.heap.get(t), Obj::Tensor(_)) => {
                    self.stack.push(t);
                    return Ok(());
                }
                _ => return Err(bad(format!("parameter at byte {at} wraps no tensor"))),
            },
            Callable::TorchSize => {
                let n = args
                    .first()
                    .and_then(|&a| self.heap.items(a))
                    .map_or(0, <[Id]>::len);
                self.charge(n, at)?;
                let dims = args
                    .first()
                    .and_then(|&a| self.heap.items(a))
                    .unwrap_or(&[])
                    .to_vec();
                Obj::Tuple(dims)
            }
            Callable::CodecsEncode => Obj::Bytes,
            Callable::StorageType(_) => {
                return Err(bad(format!(
                    "a storage type is called at byte {at} (storages must be persistent ids)"
                )));
            }
        };
        self.push(obj);
        Ok(())
    }

    /// BINPERSID: `('storage', storage_type, key, location, numel[, view_metadata])`.
    fn persistent_load(&mut self, pid: Id, at: usize) -> Result<(), Fail> {
        let h = &*self.heap;
        let invalid = || bad(format!("unsupported persistent id at byte {at}"));
        let items = h.items(pid).ok_or_else(invalid)?;
        let [tag, ty, key, _location, numel, rest @ ..] = items else {
            return Err(invalid());
        };
        if h.str(*tag) != Some("storage") {
            return Err(invalid());
        }
        let dtype = match h.get(*ty) {
            Obj::Global(Callable::StorageType(d)) => *d,
            _ => return Err(invalid()),
        };
        let key = match h.get(*key) {
            Obj::Str(s) => s.clone(),
            Obj::Int(v) => v.to_string(),
            _ => return Err(invalid()),
        };
        let mut storage = StorageRef {
            key,
            dtype,
            offset: 0,
            numel: h.usize(*numel, "storage size")?,
        };
        match rest {
            [] => {}
            [view] if matches!(h.get(*view), Obj::None) => {}
            [view] => match h.items(*view) {
                Some(&[_view_key, offset, size]) => {
                    storage.offset = h.usize(offset, "storage view offset")?;
                    storage.numel = h.usize(size, "storage view size")?;
                }
                _ => return Err(invalid()),
            },
            _ => return Err(invalid()),
        }
        self.storages.entry(storage.key.clone()).or_insert(dtype);
        self.push(Obj::Storage(storage));
        Ok(())
    }

    /// Runs until STOP; returns the result.
    fn run(&mut self) -> Result<Id, Fail> {
        loop {
            let at = self.r.pos;
            let op = self.r.u8()?;
            match op {
                0x80 => {
                    let v = self.r.u8()?;
                    if v > 5 {
                        return Err(bad(format!("pickle protocol {v} at byte {at}")));
                    }
                }
                0x95 => {
                    self.r.take(8)?;
                }
                b'.' => return self.pop(at),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    let floor = self.marks.last().copied();
                    match floor {
                        Some(m) if self.stack.len() == m => {
                            self.marks.pop();
                        }
                        _ => {
                            self.pop(at)?;
                        }
                    }
                }
                b'1' => {
                    self.pop_mark(at)?;
                }
                b'2' => {
                    let t = self.top(at)?;
                    self.stack.push(t);
                }
                b'}' => self.push(Obj::Dict(Vec::new())),
                b']' | 0x8f => self.push(Obj::List(Vec::new())),
                b')' => self.push(Obj::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark(at)?;
                    self.push(Obj::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop(at)?);
                    }
                    items.reverse();
                    self.push(Obj::Tuple(items));
                }
                b'd' => {
                    let items = self.pop_mark(at)?;
                    let pairs = Self::pairs(items, at)?;
                    self.push(Obj::Dict(pairs));
                }
                b'l' => {
                    let items = self.pop_mark(at)?;
                    self.push(Obj::List(items));
                }
                b'a' => {
                    let v = self.pop(at)?;
                    self.extend_list(vec![v], at)?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark(at)?;
                    self.extend_list(items, at)?;
                }
                b's' => {
                    let v = self.pop(at)?;
                    let k = self.pop(at)?;
                    self.extend_dict(vec![(k, v)], at)?;
                }
                b'u' => {
                    let items = self.pop_mark(at)?;
                    let pairs = Self::pairs(items, at)?;
                    self.extend_dict(pairs, at)?;
                }
                b'J' => {
                    let v = self.r.i32()?;
                    self.push(Obj::Int(i128::from(v)));
                }
                b'K' => {
                    let v = self.r.u8()?;
                    self.push(Obj::Int(i128::from(v)));
                }
                b'M' => {
                    let v = self.r.u16()?;
                    self.push(Obj::Int(i128::from(v)));
                }
                0x8a => {
                    let n = self.r.u8()?;
                    let v = long_int(self.r.take(usize::from(n))?)?;
                    self.push(Obj::Int(v));
                }
                0x8b => {
                    let n = self.r.i32()?;
                    let n = usize::try_from(n)
                        .map_err(|_| bad(format!("negative LONG4 length at byte {at}")))?;
                    let v = long_int(self.r.take(n)?)?;
                    self.push(Obj::Int(v));
                }
                b'G' => {
                    self.r.take(8)?;
                    self.push(Obj::Float);
                }
                b'N' => self.push(Obj::None),
                0x88 => self.push(Obj::Bool(true)),
                0x89 => self.push(Obj::Bool(false)),
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => u64::from(self.r.u32()?),
                        0x8c => u64::from(self.r.u8()?),
                        _ => self.r.u64()?,
                    };
                    let s = String::from_utf8_lossy(self.r.len(n)?).into_owned();
                    self.push(Obj::Str(s));
                }
                b'B' | b'C' | 0x8e => {
                    let n = match op {
                        b'B' => u64::from(self.r.u32()?),
                        b'C' => u64::from(self.r.u8()?),
                        _ => self.r.u64()?,
                    };
                    self.r.len(n)?;
                    self.push(Obj::Bytes);
                }
                b'T' | b'U' => {
                    let n = if op == b'T' {
                        u64::try_from(self.r.i32()?)
                            .map_err(|_| bad(format!("negative BINSTRING length at byte {at}")))?
                    } else {
                        u64::from(self.r.u8()?)
                    };
                    // Python 2 `str`: bytes, read as Latin-1.
                    let s: String = self.r.len(n)?.iter().map(|&b| char::from(b)).collect();
                    self.push(Obj::Str(s));
                }
                b'c' => {
                    let module = self.r.line()?;
                    let name = self.r.line()?;
                    self.global(module, name)?;
                }
                0x93 => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    let (Some(module), Some(name)) = (self.heap.str(module), self.heap.str(name))
                    else {
                        return Err(bad(format!("STACK_GLOBAL of non-strings at byte {at}")));
                    };
                    let (module, name) = (module.to_string(), name.to_string());
                    self.global(&module, &name)?;
                }
                b'R' | 0x81 => {
                    let args = self.pop(at)?;
                    let f = self.pop(at)?;
                    self.call(f, args, at)?;
                }
                b'b' => {
                    // The state of an OrderedDict (`_metadata`) or tensor is not needed.
                    self.pop(at)?;
                    self.top(at)?;
                }
                b'q' | b'r' => {
                    let i = if op == b'q' {
                        u32::from(self.r.u8()?)
                    } else {
                        self.r.u32()?
                    };
                    let t = self.top(at)?;
                    self.memo.insert(i, t);
                }
                0x94 => {
                    let t = self.top(at)?;
                    let i = u32::try_from(self.memo.len())
                        .map_err(|_| bad(format!("memo overflow at byte {at}")))?;
                    self.memo.insert(i, t);
                }
                b'h' | b'j' => {
                    let i = if op == b'h' {
                        u32::from(self.r.u8()?)
                    } else {
                        self.r.u32()?
                    };
                    let id = *self
                        .memo
                        .get(&i)
                        .ok_or_else(|| bad(format!("memo entry {i} missing at byte {at}")))?;
                    self.stack.push(id);
                }
                b'Q' => {
                    let pid = self.pop(at)?;
                    self.persistent_load(pid, at)?;
                }
                _ => {
                    return Err(bad(format!(
                        "unsupported pickle opcode 0x{op:02x} at byte {at}"
                    )));
                }
            }
        }
    }
}

/// Runs the pickle starting at `start`; returns its result and the byte after its STOP.
fn unpickle(
    data: &[u8],
    start: usize,
    heap: &mut Heap,
    storages: &mut HashMap<String, DType>,
) -> Result<(Id, usize), Fail> {
    let mut vm = Vm {
        heap,
        r: Reader { data, pos: start },
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        storages,
        copies_left: data.len().saturating_mul(2).saturating_add(4096),
    };
    let root = vm.run()?;
    Ok((root, vm.r.pos))
}

/// The `(key, tensor)` pairs of the state dict: the top-level dict, or its `state_dict` or
/// `model` entry.
fn state_dict(heap: &Heap, root: Id) -> Result<Vec<(String, TensorRef)>, Fail> {
    let dict = ["state_dict", "model"]
        .iter()
        .filter_map(|k| heap.dict_get(root, k))
        .find(|&d| matches!(heap.get(d), Obj::Dict(_)))
        .unwrap_or(root);
    let Obj::Dict(pairs) = heap.get(dict) else {
        return Err(Fail::NoTensors(format!(
            "the pickled object is a {}",
            heap.get(root).kind()
        )));
    };
    let mut out = Vec::new();
    for &(k, v) in pairs {
        if let (Some(k), Obj::Tensor(t)) = (heap.str(k), heap.get(v)) {
            out.push((strip_module(k), t.clone()));
        }
    }
    if out.is_empty() {
        let keys: Vec<&str> = pairs
            .iter()
            .filter_map(|&(k, _)| heap.str(k))
            .take(8)
            .collect();
        return Err(Fail::NoTensors(format!("a dict with keys {keys:?}")));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Legacy format
// ---------------------------------------------------------------------------------------------

const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
const LEGACY_PROTOCOL: i128 = 1001;

fn load_legacy(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Fail> {
    if bytes.first() != Some(&0x80) {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(bad(format!(
            "it is neither a zip-format torch file, a safetensors file nor a legacy torch pickle \
             (it starts with bytes {})",
            head.join(" ")
        )));
    }
    let mut heap = Heap::default();
    let mut storages = HashMap::new();
    let (magic, pos) = unpickle(bytes, 0, &mut heap, &mut storages)?;
    if heap.int(magic) != Some(LEGACY_MAGIC) {
        return Err(bad(
            "the first pickle is not PyTorch's magic number, so this is not a torch.save file",
        ));
    }
    let (proto, pos) = unpickle(bytes, pos, &mut heap, &mut storages)?;
    if heap.int(proto) != Some(LEGACY_PROTOCOL) {
        return Err(Fail::Unsupported {
            what: format!("legacy protocol version {:?}", heap.int(proto)),
            hint: "re-save it with a recent PyTorch (`torch.save(torch.load(path), path2)`)".into(),
        });
    }
    let (sys_info, pos) = unpickle(bytes, pos, &mut heap, &mut storages)?;
    if let Some(le) = heap.dict_get(sys_info, "little_endian")
        && matches!(heap.get(le), Obj::Bool(false))
    {
        return Err(Fail::Unsupported {
            what: "big-endian storage".into(),
            hint: "re-save it on a little-endian machine".into(),
        });
    }
    let (root, pos) = unpickle(bytes, pos, &mut heap, &mut storages)?;
    let tensors = state_dict(&heap, root)?;
    let (keys, mut pos) = unpickle(bytes, pos, &mut heap, &mut storages)?;
    let keys: Vec<String> = heap
        .items(keys)
        .ok_or_else(|| bad("the storage key list is not a list"))?
        .iter()
        .map(|&k| match heap.get(k) {
            Obj::Str(s) => Ok(s.clone()),
            Obj::Int(v) => Ok(v.to_string()),
            o => Err(bad(format!("a storage key is a {}", o.kind()))),
        })
        .collect::<Result<_, _>>()?;
    let mut data: HashMap<String, &[u8]> = HashMap::new();
    for key in keys {
        let dtype = *storages
            .get(&key)
            .ok_or_else(|| bad(format!("storage '{key}' is listed but never used")))?;
        let mut r = Reader { data: bytes, pos };
        let count = r.u64()?;
        let len = count
            .checked_mul(dtype.size() as u64)
            .ok_or_else(|| bad(format!("storage '{key}' has an impossible size")))?;
        let raw = r.len(len).map_err(|_| {
            bad(format!(
                "storage '{key}' ends early ({count} elements expected)"
            ))
        })?;
        pos = r.pos;
        data.insert(key, raw);
    }
    let mut budget = element_budget(bytes.len());
    let mut out = BTreeMap::new();
    for (key, t) in tensors {
        let raw = data
            .get(&t.storage.key)
            .ok_or_else(|| bad(format!("storage '{}' has no data", t.storage.key)))?;
        out.insert(key, materialise(&t, raw, &mut budget)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Zip format
// ---------------------------------------------------------------------------------------------

fn zip_fail(e: zip::result::ZipError) -> Fail {
    bad(format!("zip archive: {e}"))
}

/// Reads one archive entry, refusing sizes the archive cannot hold.
fn read_entry<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    file_len: usize,
) -> Result<Vec<u8>, Fail> {
    let entry = archive.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => bad(format!("the archive has no entry '{name}'")),
        e => zip_fail(e),
    })?;
    let size = entry.size();
    // Deflate cannot expand data more than about 1032:1.
    let limit = entry
        .compressed_size()
        .saturating_mul(1032)
        .saturating_add(1 << 16)
        .min(file_len as u64 * 1032);
    if size > limit {
        return Err(bad(format!(
            "entry '{name}' claims {size} bytes, more than its compressed data can hold"
        )));
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(file_len * 4));
    // Reading one byte past the declared size reaches the entry's end, where the zip reader
    // verifies the CRC-32 (so corrupt data is an error, not wrong weights).
    entry
        .take(size.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| bad(format!("entry '{name}': {e}")))?;
    if buf.len() as u64 != size {
        return Err(bad(format!(
            "entry '{name}' holds {} bytes, not the {size} its header says",
            buf.len()
        )));
    }
    Ok(buf)
}

fn load_zip(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Fail> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_fail)?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let mut pkls: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.strip_suffix("data.pkl").is_some_and(|top| {
                top.is_empty() || (top.ends_with('/') && top.matches('/').count() == 1)
            })
        })
        .collect();
    pkls.sort();
    let Some(pkl) = pkls.first() else {
        return Err(bad(
            "the archive has no data.pkl, so it is not a torch.save file",
        ));
    };
    let top = pkl.strip_suffix("data.pkl").unwrap_or("").to_string();
    if names
        .iter()
        .any(|n| *n == format!("{top}constants.pkl") || n.starts_with(&format!("{top}code/")))
    {
        return Err(Fail::Unsupported {
            what: "a TorchScript archive (torch.jit.save)".into(),
            hint: "save the model's state dict with torch.save(model.state_dict(), path) instead"
                .into(),
        });
    }
    let byteorder = format!("{top}byteorder");
    if names.contains(&byteorder) {
        let order = read_entry(&mut archive, &byteorder, bytes.len())?;
        if order.trim_ascii() == b"big" {
            return Err(Fail::Unsupported {
                what: "big-endian storage".into(),
                hint: "re-save it on a little-endian machine".into(),
            });
        }
    }
    let pickle = read_entry(&mut archive, &format!("{top}data.pkl"), bytes.len())?;
    let mut heap = Heap::default();
    let mut storages = HashMap::new();
    let (root, _) = unpickle(&pickle, 0, &mut heap, &mut storages)?;
    let tensors = state_dict(&heap, root)?;
    let mut data: HashMap<String, Vec<u8>> = HashMap::new();
    for (_, t) in &tensors {
        let key = &t.storage.key;
        if !data.contains_key(key) {
            if key.contains('/') || key.contains("..") {
                return Err(bad(format!("storage key '{key}' is not a plain name")));
            }
            let raw = read_entry(&mut archive, &format!("{top}data/{key}"), bytes.len())?;
            data.insert(key.clone(), raw);
        }
    }
    let mut budget = element_budget(bytes.len());
    let mut out = BTreeMap::new();
    for (key, t) in tensors {
        let raw = data.get(&t.storage.key).map(Vec::as_slice).unwrap_or(&[]);
        out.insert(key, materialise(&t, raw, &mut budget)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Safetensors
// ---------------------------------------------------------------------------------------------

fn load_safetensors(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Fail> {
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
        let dtype = DType::from_safetensors(dtype_name).ok_or_else(|| Fail::Unsupported {
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
