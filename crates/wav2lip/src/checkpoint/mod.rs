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
//!
//! The phases live in submodules: `decode` (the bounded byte reader, element types and the
//! strided-storage-to-`f32` copy every format ends with), `pickle` (the virtual machine and
//! the state-dict lookup), `legacy` and `torch_zip` (the two `torch.save` containers around
//! it) and `safetensors` (reader and writer). This file holds the public API: [`Checkpoint`]
//! with its key, shape and value checks, the errors, and the format sniffing.

mod decode;
mod legacy;
mod pickle;
mod safetensors;
mod torch_zip;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use safetensors::write_safetensors;

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
            Format::TorchZip => torch_zip::load(bytes),
            Format::Safetensors => safetensors::load(bytes),
            _ => legacy::load(bytes),
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

    /// The `n` keys nearest to `key` by Levenshtein distance over characters, ties in key order.
    fn similar_keys(&self, key: &str, n: usize) -> Vec<String> {
        let mut scored: Vec<(usize, &String)> = self
            .tensors
            .keys()
            .map(|k| (strsim::levenshtein(key, k), k))
            .collect();
        scored.sort();
        scored.into_iter().take(n).map(|(_, k)| k.clone()).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Format detection and internal errors
// ---------------------------------------------------------------------------------------------

fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PK\x03\x04") {
        return Format::TorchZip;
    }
    if let Some(head) = bytes.get(..8) {
        let n = u64::from_le_bytes(decode::le(head));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_keys(keys: &[&str]) -> Checkpoint {
        let one = Tensor {
            shape: vec![1],
            data: vec![0.0],
        };
        Checkpoint::from_tensors(keys.iter().map(|k| (k.to_string(), one.clone())).collect())
    }

    /// "Did you mean": the three nearest keys by Levenshtein distance over characters (an
    /// accented letter is one edit, not two bytes), ties broken by key order.
    #[test]
    fn missing_key_suggests_the_nearest_keys() {
        let ckpt = with_keys(&[
            "audio_encoder.0.conv_block.0.weight",
            "bn.running_mean",
            "conv.bias",
            "conv.weight",
            "conv.wéight",
            "fc.weight",
        ]);
        assert_eq!(strsim::levenshtein("conv.weight", "conv.wéight"), 1);
        for (key, nearest) in [
            ("conv.wieght", ["conv.weight", "conv.wéight", "conv.bias"]),
            ("conv.weigh", ["conv.weight", "conv.wéight", "conv.bias"]),
            ("conv_bias", ["conv.bias", "conv.weight", "conv.wéight"]),
            ("", ["conv.bias", "fc.weight", "conv.weight"]),
        ] {
            match ckpt.expect(key, &[1]) {
                Err(CheckpointError::MissingKey { similar, count, .. }) => {
                    assert_eq!(similar, nearest, "{key:?}");
                    assert_eq!(count, 6);
                }
                other => panic!("{key:?}: {other:?}"),
            }
        }
        let msg = ckpt
            .expect("conv.weigh", &[1])
            .expect_err("missing")
            .to_string();
        assert!(
            msg.contains("the most similar keys are `conv.weight`, `conv.wéight`, `conv.bias`"),
            "{msg}"
        );
        assert!(with_keys(&[]).similar_keys("conv.weight", 3).is_empty());
    }

    #[test]
    fn sniffing_tells_the_formats_apart() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Format::TorchZip);
        assert_eq!(sniff(b"\x02\0\0\0\0\0\0\0{}"), Format::Safetensors);
        // A header length past the end is not safetensors.
        assert_eq!(sniff(b"\x03\0\0\0\0\0\0\0{}"), Format::LegacyPickle);
        assert_eq!(sniff(b"\x80\x02"), Format::LegacyPickle);
        assert_eq!(sniff(b""), Format::LegacyPickle);
    }
}
