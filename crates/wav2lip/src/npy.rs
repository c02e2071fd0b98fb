//! A minimal reader and writer of NumPy `.npy` files for `float32` arrays in C order.
//!
//! Enough to exchange tensors with NumPy in parity checks: [`write_f32`] writes format version 1.0
//! (2.0 when the header would not fit in 64 KiB) with `descr` `'<f4'` and `fortran_order` False;
//! [`read_f32`] reads versions 1.0, 2.0 and 3.0, `'<f4'` as is and `'<f8'` converted to `f32`.
//! Any other dtype, big-endian data or Fortran order is rejected with a message that says so.
//!
//! The format: the magic `\x93NUMPY`, a major and a minor version byte, the header length
//! (little-endian `u16` for 1.0, `u32` for 2.0 and 3.0), then a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (80, 201), }` padded with spaces and ended by
//! a newline so that the data starts at a multiple of 64 bytes, then the raw data.
//!
//! Kept rather than `npyz` or `ndarray-npy`: both parse the header with `py_literal`, which adds
//! about a dozen crates (pest and its derive macro, num-bigint, stacker with psm's assembly
//! build) to every build of this library for a module only examples and tests use, while the
//! refusals, their messages and the atomic write here would stay ours.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The 6 bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes.
const ALIGN: usize = 64;

/// Why a `.npy` file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened, read, written or renamed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a well-formed `.npy` file.
    #[error("{path} is not a valid .npy file: {reason}")]
    Format { path: PathBuf, reason: String },
    /// A well-formed file with a layout this reader does not handle.
    #[error(
        "{path}: unsupported .npy array ({what}); only little-endian float32 ('<f4') or float64 \
         ('<f8') in C order are read — convert with e.g. `np.save(p, np.ascontiguousarray(a, dtype='<f4'))`"
    )]
    Unsupported { path: PathBuf, what: String },
    /// The data given to [`write_f32`] does not have as many elements as the shape says.
    #[error(
        "cannot write {path}: shape {shape:?} holds {expected} elements but {actual} were given"
    )]
    ShapeMismatch {
        path: PathBuf,
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },
}

/// Writes `data` (C order, `shape.iter().product()` elements) as a little-endian float32 `.npy`
/// file. The file is written under a temporary name in the same folder and renamed into place,
/// so readers never see a partial file.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    let expected = element_count(shape).ok_or_else(|| NpyError::ShapeMismatch {
        path: path.to_owned(),
        shape: shape.to_vec(),
        expected: usize::MAX,
        actual: data.len(),
    })?;
    if expected != data.len() {
        return Err(NpyError::ShapeMismatch {
            path: path.to_owned(),
            shape: shape.to_vec(),
            expected,
            actual: data.len(),
        });
    }
    let bytes = encode_f32(shape, data);
    write_atomically(path, &bytes)
}

/// Reads a `.npy` file holding a little-endian `float32` or `float64` array in C order.
/// Returns the shape (empty for a 0-d array) and the elements in C order, as `f32`.
pub fn read_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), NpyError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| NpyError::Io {
            op: "cannot read",
            path: path.to_owned(),
            source,
        })?;
    decode_f32(&bytes).map_err(|e| e.at(path))
}

/// The bytes of a float32 `.npy` file; `data` must hold `shape`'s element count.
fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // The header (dict, space padding, newline) ends on a multiple of ALIGN bytes from the start
    // of the file. Version 1.0 stores its length in a u16; longer headers need version 2.0.
    let padded_len = |prefix: usize| (prefix + header.len() + 1).div_ceil(ALIGN) * ALIGN;
    let (version, prefix) = if padded_len(10) - 10 <= usize::from(u16::MAX) {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let unpadded = prefix + header.len() + 1;
    let padded = padded_len(prefix);
    header.extend(std::iter::repeat_n(' ', padded - unpadded));
    header.push('\n');

    let mut out = Vec::with_capacity(padded + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        // Fits: checked above.
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it over
/// `path`. The temporary file is removed when anything fails.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NpyError> {
    let io = |op: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| NpyError::Io {
            op,
            path: p,
            source,
        }
    };
    let name = path.file_name().ok_or_else(|| NpyError::Io {
        op: "cannot write",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(io("cannot write", &tmp))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io("cannot rename into", path)));
    if result.is_err() {
        // Best effort: the temporary file may not exist.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A decoding failure before the file name is known.
struct DecodeError {
    unsupported: bool,
    reason: String,
}

impl DecodeError {
    fn format(reason: impl Into<String>) -> Self {
        Self {
            unsupported: false,
            reason: reason.into(),
        }
    }

    fn unsupported(reason: impl Into<String>) -> Self {
        Self {
            unsupported: true,
            reason: reason.into(),
        }
    }

    fn at(self, path: &Path) -> NpyError {
        if self.unsupported {
            NpyError::Unsupported {
                path: path.to_owned(),
                what: self.reason,
            }
        } else {
            NpyError::Format {
                path: path.to_owned(),
                reason: self.reason,
            }
        }
    }
}

/// Parses a whole `.npy` file held in memory.
fn decode_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), DecodeError> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(DecodeError::format(
            "it does not start with the .npy magic \\x93NUMPY",
        ));
    }
    let major = bytes[6];
    let minor = bytes[7];
    let (len_size, utf8) = match (major, minor) {
        (1, 0) => (2usize, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => {
            return Err(DecodeError::unsupported(format!(
                "format version {major}.{minor}; versions 1.0, 2.0 and 3.0 are read"
            )));
        }
    };
    let header_start = 8 + len_size;
    if bytes.len() < header_start {
        return Err(DecodeError::format(
            "the file ends inside the header length",
        ));
    }
    let header_len = if len_size == 2 {
        usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    let data_start = header_start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            DecodeError::format(format!(
                "the header is said to be {header_len} bytes but the file has {} bytes",
                bytes.len()
            ))
        })?;
    let header_bytes = &bytes[header_start..data_start];
    let header = if utf8 {
        std::str::from_utf8(header_bytes)
            .map_err(|_| DecodeError::format("the header is not valid UTF-8"))?
    } else {
        if !header_bytes.is_ascii() {
            return Err(DecodeError::format("the header is not ASCII"));
        }
        std::str::from_utf8(header_bytes)
            .map_err(|_| DecodeError::format("the header is not ASCII"))?
    };
    let header = parse_header(header)?;

    let little_f4 = matches!(header.descr.as_str(), "<f4");
    let little_f8 = matches!(header.descr.as_str(), "<f8");
    if !little_f4 && !little_f8 {
        return Err(DecodeError::unsupported(format!(
            "dtype '{}'",
            header.descr
        )));
    }
    if header.fortran_order {
        return Err(DecodeError::unsupported(
            "Fortran order (fortran_order: True)",
        ));
    }
    let count = element_count(&header.shape)
        .ok_or_else(|| DecodeError::format(format!("shape {:?} overflows", header.shape)))?;
    let item = if little_f4 { 4 } else { 8 };
    let data = &bytes[data_start..];
    let want = count
        .checked_mul(item)
        .ok_or_else(|| DecodeError::format(format!("shape {:?} overflows", header.shape)))?;
    if data.len() != want {
        return Err(DecodeError::format(format!(
            "shape {:?} of '{}' needs {want} data bytes but the file has {}",
            header.shape,
            header.descr,
            data.len()
        )));
    }
    let values = if little_f4 {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect()
    };
    Ok((header.shape, values))
}

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value in the header's dict literal.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the Python dict literal of a `.npy` header (the subset NumPy writes: string keys,
/// string, boolean and integer-tuple values, optional trailing commas, whitespace anywhere).
fn parse_header(text: &str) -> Result<Header, DecodeError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        let value = p.value()?;
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", v) => {
                return Err(DecodeError::unsupported(format!(
                    "header key '{key}' has the value {v:?}"
                )));
            }
            (other, _) => {
                return Err(DecodeError::format(format!(
                    "unexpected header key '{other}'"
                )));
            }
        }
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        p.expect(b',')?;
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(DecodeError::format("text after the header dict"));
    }
    match (descr, fortran, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header {
            descr,
            fortran_order,
            shape,
        }),
        _ => Err(DecodeError::format(
            "the header lacks one of 'descr', 'fortran_order', 'shape'",
        )),
    }
}

/// A cursor over the header text.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), DecodeError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(DecodeError::format(format!(
                "expected '{}' at byte {} of the header",
                c as char, self.i
            )))
        }
    }

    /// A single- or double-quoted string without escapes.
    fn string(&mut self) -> Result<String, DecodeError> {
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(DecodeError::format(format!(
                    "expected a quoted string at byte {} of the header",
                    self.i
                )));
            }
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or_else(|| DecodeError::format("unterminated string in the header"))?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        match self.s.get(self.i) {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => self.tuple().map(Value::Tuple),
            _ if self.s[self.i..].starts_with(b"True") => {
                self.i += 4;
                Ok(Value::Bool(true))
            }
            _ if self.s[self.i..].starts_with(b"False") => {
                self.i += 5;
                Ok(Value::Bool(false))
            }
            _ => Err(DecodeError::format(format!(
                "unexpected value at byte {} of the header",
                self.i
            ))),
        }
    }

    /// `()`, `(n,)`, `(a, b)`, `(a, b,)`: non-negative integers (a trailing `L` is allowed, as
    /// Python 2 wrote it).
    fn tuple(&mut self) -> Result<Vec<usize>, DecodeError> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            if start == self.i {
                return Err(DecodeError::format(format!(
                    "expected a dimension at byte {start} of the header"
                )));
            }
            let digits = std::str::from_utf8(&self.s[start..self.i])
                .map_err(|_| DecodeError::format("bad dimension"))?;
            let dim = digits
                .parse::<usize>()
                .map_err(|_| DecodeError::format(format!("dimension {digits} is too large")))?;
            dims.push(dim);
            self.eat(b'L');
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            self.expect(b',')?;
        }
    }
}

/// The product of the dimensions (1 for a 0-d array), or `None` on overflow.
fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file_with(header: &str, version: u8, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trip_shapes() {
        let scratch = test_support::Scratch::new("wav2lip-npy");
        for shape in [
            vec![],
            vec![0],
            vec![5],
            vec![2, 3],
            vec![80, 7],
            vec![2, 1, 3, 4],
        ] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 3.0).collect();
            let path = scratch.path(&format!("rt{}.npy", shape.len()));
            write_f32(&path, &shape, &data).unwrap();
            let (s, d) = read_f32(&path).unwrap();
            assert_eq!(s, shape);
            assert_eq!(d, data);
        }
    }

    #[test]
    fn header_is_aligned_and_exact() {
        let bytes = encode_f32(&[80, 201], &vec![0.0; 80 * 201]);
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let hlen = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
        assert!(
            header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (80, 201), }")
        );
        assert!(header.ends_with('\n'));
        // One-dimensional shapes need the trailing comma of a Python 1-tuple.
        let bytes = encode_f32(&[3], &[1.0, 2.0, 3.0]);
        assert!(
            std::str::from_utf8(&bytes[10..64])
                .unwrap()
                .contains("'shape': (3,)")
        );
    }

    #[test]
    fn big_header_uses_version_2() {
        // 1.0 cannot hold a header over 65535 bytes; 2.0 can.
        let shape = vec![1usize; 30_000];
        let bytes = encode_f32(&shape, &[7.0]);
        assert_eq!(bytes[6], 2);
        let (s, d) = decode_f32(&bytes).ok().unwrap();
        assert_eq!(s, shape);
        assert_eq!(d, vec![7.0]);
    }

    #[test]
    fn reads_f8_v2_and_loose_headers() {
        let values = [1.5f64, -2.25, 1e-3];
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let header = "{\"descr\":\"<f8\",\"shape\":(3L,),\"fortran_order\":False}  \n";
        let (s, d) = decode_f32(&file_with(header, 2, &data)).ok().unwrap();
        assert_eq!(s, vec![3]);
        assert_eq!(d, vec![1.5, -2.25, 1e-3f64 as f32]);
    }

    #[test]
    fn rejects_clearly() {
        let scratch = test_support::Scratch::new("wav2lip-npy");
        let path = scratch.path("bad.npy");
        let cases: [(Vec<u8>, &str); 7] = [
            (b"not numpy at all".to_vec(), "magic"),
            (
                file_with(
                    "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n",
                    1,
                    &[0; 4],
                ),
                "dtype '>f4'",
            ),
            (
                file_with(
                    "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }\n",
                    1,
                    &[0; 4],
                ),
                "dtype '<i4'",
            ),
            (
                file_with(
                    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n",
                    1,
                    &[0; 16],
                ),
                "Fortran",
            ),
            (
                file_with(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n",
                    1,
                    &[0; 12],
                ),
                "needs 16 data bytes",
            ),
            (
                file_with("{'descr': '<f4', 'shape': (2,), }\n", 1, &[0; 8]),
                "lacks",
            ),
            (
                file_with(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n",
                    4,
                    &[0; 4],
                ),
                "version 4.0",
            ),
        ];
        for (bytes, needle) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let err = read_f32(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            assert!(err.contains("bad.npy"), "{err:?} does not name the file");
        }
        let missing = read_f32(&scratch.path("missing.npy"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.npy"), "{missing}");
    }

    #[test]
    fn write_checks_the_shape_and_leaves_no_temporary() {
        let scratch = test_support::Scratch::new("wav2lip-npy");
        let path = scratch.path("shape.npy");
        let err = write_f32(&path, &[2, 3], &[0.0; 5])
            .unwrap_err()
            .to_string();
        assert!(err.contains("6 elements but 5"), "{err}");
        assert!(!path.exists());
        // Overwriting is atomic: the old file stays readable until the rename.
        write_f32(&path, &[1], &[1.0]).unwrap();
        write_f32(&path, &[2], &[2.0, 3.0]).unwrap();
        assert_eq!(read_f32(&path).unwrap(), (vec![2], vec![2.0, 3.0]));
        let dir = path.parent().unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".shape.npy.tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // A folder that does not exist: an error naming the temporary file's folder, no panic.
        let err = write_f32(&scratch.path("no/such/dir.npy"), &[1], &[1.0]).unwrap_err();
        assert!(err.to_string().contains("no/such"), "{err}");
    }
}
