//! Checkpoint loading against real and synthetic files.
//!
//! - facenet-pytorch 2.6.0's `pnet.pt`/`rnet.pt`/`onet.pt` (real legacy torch files whose
//!   weights are stored with column-major strides), fetched with `pip download` into
//!   `target/test-cache/facenet` once, cross-checked value by value against a stdlib-only Python
//!   reading of the raw storages. Without network access the test prints SKIPPED, except under
//!   `CI=true` where it fails.
//! - `fixtures/make_torch_files.py` (Python standard library only) writes files with
//!   `torch.save`'s exact structure in the legacy and zip formats, plus the expected values.
//! - safetensors round trips, truncated and corrupted files of every format, refused globals,
//!   pathological pickles, and the error messages of `Checkpoint::expect`.
//! - Optional: files written by a real `torch.save`, when `WAV2LIP_TORCH_PYTHONPATH` names a
//!   directory from which `import torch` works (passed to Python as `PYTHONPATH`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::Scratch;
use wav2lip::checkpoint::{Checkpoint, CheckpointError, Format, Tensor, write_safetensors};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python(args: &[&str], pythonpath: Option<&str>) -> std::io::Result<std::process::Output> {
    let mut cmd = Command::new("python3");
    cmd.args(args);
    if let Some(p) = pythonpath {
        cmd.env("PYTHONPATH", p);
    }
    cmd.output()
}

fn run_python(args: &[&str], pythonpath: Option<&str>) -> String {
    let out = python(args, pythonpath).expect("python3 must be installed for this test");
    assert!(
        out.status.success(),
        "python3 {:?} failed:\n{}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("python output is UTF-8")
}

fn load(path: &Path) -> Checkpoint {
    Checkpoint::load(path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn json_usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("non-negative integer") as usize)
        .collect()
}

/// Row-major flat index of a multi-index.
fn flat_index(shape: &[usize], idx: &[usize]) -> usize {
    shape.iter().zip(idx).fold(0, |acc, (&n, &i)| acc * n + i)
}

// ---------------------------------------------------------------------------------------------
// 1. Real files: facenet-pytorch's MTCNN weights
// ---------------------------------------------------------------------------------------------

/// Downloads (once) facenet-pytorch's wheel and extracts the three weight files; `None` when
/// pip cannot reach the index (not under CI).
fn facenet_files() -> Option<PathBuf> {
    let dir = manifest_dir().join("../../target/test-cache/mtcnn");
    match wav2lip::fetch::mtcnn_weights(&dir) {
        Ok(_) => Some(dir),
        Err(why) => {
            assert!(
                !test_support::ci(),
                "CI=true and pip could not download facenet-pytorch: {why}"
            );
            test_support::skip("wav2lip facenet checkpoint test", &why.to_string());
            None
        }
    }
}

/// Stdlib-only reading of a legacy torch file: for every tensor of two or more dimensions,
/// its strides and its values at a few multi-indices, taken from the raw storage bytes.
const CROSS_CHECK_PY: &str = r#"
import collections, json, pickle, struct, sys

def rebuild(storage, offset, size, stride, *rest):
    return ("tensor", storage, offset, tuple(size), tuple(stride))

class Reader(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild
        if module == "torch" and name == "FloatStorage":
            return name
        raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))

    def persistent_load(self, pid):
        return pid[2]

with open(sys.argv[1], "rb") as f:
    for _ in range(3):
        pickle.load(f)
    obj = Reader(f).load()
    keys = pickle.load(f)
    raw = {}
    for key in keys:
        (n,) = struct.unpack("<q", f.read(8))
        raw[key] = f.read(4 * n)

out = {}
for name, (_, key, offset, size, stride) in obj.items():
    if len(size) < 2:
        continue
    picks = [tuple(0 for _ in size), tuple(n - 1 for n in size)]
    for k in range(1, 5):
        picks.append(tuple((k * 7919 + d * 104729) % n for d, n in enumerate(size)))
    samples = []
    for idx in picks:
        pos = offset + sum(i * s for i, s in zip(idx, stride))
        (bits,) = struct.unpack_from("<I", raw[key], 4 * pos)
        samples.append([list(idx), bits])
    out[name] = {"size": list(size), "stride": list(stride), "samples": samples}
print(json.dumps(out))
"#;

/// The MTCNN state-dict keys and shapes (research notes, section 6): unpadded convs with
/// per-channel PReLU, then dense layers and the heads.
fn mtcnn_architecture(net: &str) -> Vec<(String, Vec<usize>)> {
    // (layer, weight shape); every layer but a PReLU also has a bias of weight_shape[0].
    let layers: &[(&str, &[usize])] = match net {
        "pnet" => &[
            ("conv1", &[10, 3, 3, 3]),
            ("prelu1", &[10]),
            ("conv2", &[16, 10, 3, 3]),
            ("prelu2", &[16]),
            ("conv3", &[32, 16, 3, 3]),
            ("prelu3", &[32]),
            ("conv4_1", &[2, 32, 1, 1]),
            ("conv4_2", &[4, 32, 1, 1]),
        ],
        "rnet" => &[
            ("conv1", &[28, 3, 3, 3]),
            ("prelu1", &[28]),
            ("conv2", &[48, 28, 3, 3]),
            ("prelu2", &[48]),
            ("conv3", &[64, 48, 2, 2]),
            ("prelu3", &[64]),
            ("dense4", &[128, 576]),
            ("prelu4", &[128]),
            ("dense5_1", &[2, 128]),
            ("dense5_2", &[4, 128]),
        ],
        "onet" => &[
            ("conv1", &[32, 3, 3, 3]),
            ("prelu1", &[32]),
            ("conv2", &[64, 32, 3, 3]),
            ("prelu2", &[64]),
            ("conv3", &[64, 64, 3, 3]),
            ("prelu3", &[64]),
            ("conv4", &[128, 64, 2, 2]),
            ("prelu4", &[128]),
            ("dense5", &[256, 1152]),
            ("prelu5", &[256]),
            ("dense6_1", &[2, 256]),
            ("dense6_2", &[4, 256]),
            ("dense6_3", &[10, 256]),
        ],
        _ => unreachable!("unknown net {net}"),
    };
    let mut keys = Vec::new();
    for (layer, shape) in layers {
        keys.push((format!("{layer}.weight"), shape.to_vec()));
        if !layer.starts_with("prelu") {
            keys.push((format!("{layer}.bias"), vec![shape[0]]));
        }
    }
    keys
}

#[test]
fn facenet_mtcnn_weights_match_python() {
    let Some(dir) = facenet_files() else {
        return;
    };
    let mut non_contiguous = 0;
    for (net, count) in [("pnet", 13), ("rnet", 16), ("onet", 21)] {
        let path = dir.join(format!("{net}.pt"));
        let ckpt = load(&path);
        assert_eq!(ckpt.format, Format::LegacyPickle, "{net}");
        let keys: Vec<&str> = ckpt.keys().collect();
        println!("{net}: {} keys: {keys:?}", keys.len());
        assert_eq!(ckpt.len(), count, "{net} key count");
        let arch = mtcnn_architecture(net);
        assert_eq!(arch.len(), count, "{net} architecture table");
        for (key, shape) in &arch {
            let t = ckpt
                .expect(key, shape)
                .unwrap_or_else(|e| panic!("{net}: {e}"));
            assert!(
                t.data.iter().all(|v| v.is_finite()),
                "{net} {key} has non-finite values"
            );
            assert!(t.data.iter().any(|&v| v != 0.0), "{net} {key} is all zeros");
        }
        // Independent reading of the same bytes in Python.
        let path_arg = path.to_string_lossy().into_owned();
        let report = run_python(&["-c", CROSS_CHECK_PY, &path_arg], None);
        let report: serde_json::Value = serde_json::from_str(&report).expect("python JSON");
        let report = report.as_object().expect("object");
        assert!(
            report.len() >= 2,
            "{net}: at least two multi-dimensional tensors"
        );
        for (key, info) in report {
            let size = json_usizes(&info["size"]);
            let stride = json_usizes(&info["stride"]);
            let t = ckpt
                .get(key)
                .unwrap_or_else(|| panic!("{net}: missing {key}"));
            assert_eq!(t.shape, size, "{net} {key} shape");
            let mut row_major = vec![1usize; size.len()];
            for d in (0..size.len().saturating_sub(1)).rev() {
                row_major[d] = row_major[d + 1] * size[d + 1];
            }
            if stride != row_major {
                non_contiguous += 1;
            }
            for sample in info["samples"].as_array().expect("samples") {
                let idx = json_usizes(&sample[0]);
                let want = sample[1].as_u64().expect("f32 bits") as u32;
                let got = t.data[flat_index(&t.shape, &idx)];
                assert_eq!(
                    got.to_bits(),
                    want,
                    "{net} {key}{idx:?} (strides {stride:?})"
                );
            }
        }
    }
    assert!(
        non_contiguous > 0,
        "expected the real files to hold non-contiguous tensors, so that strides are exercised"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Synthetic torch.save-structured files
// ---------------------------------------------------------------------------------------------

/// Runs the fixture generator into a scratch directory; returns it and the expected values.
fn fixtures(name: &str) -> (Scratch, serde_json::Value) {
    let dir = Scratch::new(name);
    let script = manifest_dir().join("tests/fixtures/make_torch_files.py");
    run_python(&[&script.to_string_lossy(), &dir.to_string_lossy()], None);
    let expected = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected = serde_json::from_str(&expected).expect("expected.json parses");
    (dir, expected)
}

/// Compares a checkpoint with `{key: {"shape", "bits"}}`: same keys, shapes and values, bit
/// for bit (the expected values are float32 bit patterns: every storage type but double is
/// exact in f32, and doubles are rounded to nearest as the loader does).
fn assert_matches(ckpt: &Checkpoint, expected: &serde_json::Value, what: &str) {
    let expected = expected.as_object().expect("object");
    let keys: Vec<&str> = ckpt.keys().collect();
    let want: Vec<&str> = expected.keys().map(String::as_str).collect();
    assert_eq!(keys, want, "{what}: keys");
    for (key, e) in expected {
        let t = ckpt.get(key).expect("key present");
        assert_eq!(t.shape, json_usizes(&e["shape"]), "{what} {key}: shape");
        let bits: Vec<u32> = e["bits"]
            .as_array()
            .expect("bits")
            .iter()
            .map(|v| v.as_u64().expect("f32 bits") as u32)
            .collect();
        assert_eq!(t.data.len(), bits.len(), "{what} {key}: element count");
        for (i, (&got, &want)) in t.data.iter().zip(&bits).enumerate() {
            assert_eq!(
                got.to_bits(),
                want,
                "{what} {key}[{i}]: got {got:e}, want {:e}",
                f32::from_bits(want)
            );
        }
    }
}

#[test]
fn synthetic_torch_files_load_exactly() {
    let (dir, expected) = fixtures("synthetic");
    for (file, format) in [
        ("legacy.pt", Format::LegacyPickle),
        ("zip.pt", Format::TorchZip),
        ("zip_p4.pt", Format::TorchZip),
        ("zip_deflated.pt", Format::TorchZip),
    ] {
        let ckpt = load(&dir.join(file));
        assert_eq!(ckpt.format, format, "{file}");
        assert_matches(&ckpt, &expected[file], file);
        // Spot checks that do not rely on the generator's own arithmetic.
        let nbt = ckpt.expect("bn.num_batches_tracked", &[]).expect("scalar");
        assert_eq!(nbt.data, vec![12345.0]);
        let lin = ckpt.expect("lin.weight", &[5, 3]).expect("transposed");
        // Storage [1.5 i - 7] viewed as 3x5, transposed: lin[r][c] = storage[c * 5 + r].
        assert_eq!(lin.data[1], 1.5 * 5.0 - 7.0);
        // Half storage [0.1, -2.5, 65504, 6e-8, 1e-5, pi, -0, 1/3, 2^-14, 7, -8.5, 0] seen as
        // 4x3 with strides [1, 4]: half[r][c] = storage[r + 4c].
        let half = ckpt.expect("half", &[4, 3]).expect("half");
        assert!(
            (half.data[0] - 0.1).abs() <= 0.1 * 2f32.powi(-11),
            "f16 0.1 in precision"
        );
        assert_eq!(half.data[7].to_bits(), (-0.0f32).to_bits());
        assert_eq!(half.data[8], -8.5);
        assert_eq!(
            half.data[9],
            2f32.powi(-24),
            "6e-8 is the smallest f16 subnormal"
        );
        assert_eq!(half.data[2], 2f32.powi(-14));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Safetensors, corrupt files, refused globals, error messages
// ---------------------------------------------------------------------------------------------

fn sample_tensors() -> BTreeMap<String, Tensor> {
    let mut t = BTreeMap::new();
    t.insert(
        "a.weight".to_string(),
        Tensor {
            shape: vec![2, 3],
            data: vec![1.0, -2.0, 3.5, f32::MIN_POSITIVE, f32::MAX, -0.0],
        },
    );
    t.insert(
        "b".to_string(),
        Tensor {
            shape: vec![],
            data: vec![42.0],
        },
    );
    t.insert(
        "empty".to_string(),
        Tensor {
            shape: vec![0, 4],
            data: vec![],
        },
    );
    t.insert(
        "z.long.name.bias".to_string(),
        Tensor {
            shape: vec![5],
            data: (0..5).map(|i| i as f32 * 0.1).collect(),
        },
    );
    t
}

#[test]
fn safetensors_round_trip() {
    let dir = Scratch::new("safetensors");
    let path = dir.join("t.safetensors");
    let tensors = sample_tensors();
    write_safetensors(&path, &tensors).expect("write");
    let bytes = std::fs::read(&path).expect("read back");
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    assert_eq!(header_len % 8, 0, "header padded to 8 bytes");
    assert_eq!(bytes[8], b'{');
    let ckpt = load(&path);
    assert_eq!(ckpt.format, Format::Safetensors);
    assert_eq!(ckpt.tensors(), &tensors);
    assert_eq!(ckpt.len(), 4);
    assert!(!ckpt.is_empty());

    // A mismatched tensor is refused, naming it.
    let mut bad = tensors.clone();
    bad.insert(
        "broken".into(),
        Tensor {
            shape: vec![2, 2],
            data: vec![1.0; 3],
        },
    );
    let err = write_safetensors(&dir.join("bad.safetensors"), &bad).expect_err("mismatch");
    assert!(err.to_string().contains("`broken`"), "{err}");
}

/// A safetensors file written by hand, with other dtypes and a "module." prefix.
#[test]
fn safetensors_other_dtypes() {
    let dir = Scratch::new("safetensors_dtypes");
    let mut body = Vec::new();
    let mut header = serde_json::Map::new();
    let mut add = |name: &str, dtype: &str, shape: &[usize], bytes: &[u8]| {
        let begin = body.len();
        body.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [begin, body.len()]}),
        );
    };
    let f16: Vec<u8> = [0x3c00u16, 0xc000, 0x0001, 0x7bff]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    add("module.h", "F16", &[2, 2], &f16);
    let bf16: Vec<u8> = [0x3f80u16, 0xc040]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    add("module.bf", "BF16", &[2], &bf16);
    let i64s: Vec<u8> = [-3i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
    add("module.i", "I64", &[2, 1], &i64s);
    add("module.u", "U8", &[3], &[0, 1, 255]);
    add("module.d", "F64", &[1], &0.5f64.to_le_bytes());
    let header = serde_json::Value::Object(header).to_string();
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&body);
    let path = dir.join("dtypes.safetensors");
    std::fs::write(&path, &file).expect("write");
    let ckpt = load(&path);
    assert_eq!(
        ckpt.get("h").expect("h").data,
        vec![1.0, -2.0, 2f32.powi(-24), 65504.0]
    );
    assert_eq!(ckpt.get("bf").expect("bf").data, vec![1.0, -3.0]);
    assert_eq!(ckpt.get("i").expect("i").data, vec![-3.0, 7.0]);
    assert_eq!(ckpt.get("i").expect("i").shape, vec![2, 1]);
    assert_eq!(ckpt.get("u").expect("u").data, vec![0.0, 1.0, 255.0]);
    assert_eq!(ckpt.get("d").expect("d").data, vec![0.5]);
}

/// Loads `bytes` from a file; must not panic. Returns the result.
fn load_bytes(dir: &Path, bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let path = dir.join("probe.bin");
    std::fs::write(&path, bytes).expect("write probe");
    Checkpoint::load(&path)
}

#[test]
fn truncated_and_corrupted_files_give_errors() {
    let (dir, _) = fixtures("corrupt");
    let st = dir.join("t.safetensors");
    write_safetensors(&st, &sample_tensors()).expect("write safetensors");
    let work = Scratch::new("corrupt_probe");
    for file in ["legacy.pt", "zip.pt", "zip_deflated.pt", "t.safetensors"] {
        let good = std::fs::read(dir.join(file)).expect("fixture");
        // Probe positions: every byte of the first and last 32, and about 120 in between
        // (each probe is a file write, so probing every byte would make the test slow).
        let n = good.len();
        let step = (n / 120).max(1);
        let probes: Vec<usize> = (0..n)
            .filter(|&i| i < 32 || i + 32 >= n || i % step == 0)
            .collect();
        // Proper prefixes are errors naming the file (no panic, no partial success).
        for &len in &probes {
            match load_bytes(&work, &good[..len]) {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains("probe.bin"), "error names the file: {msg}");
                }
                Ok(c) => panic!("{file} truncated to {len} bytes loaded {} tensors", c.len()),
            }
        }
        // Single-byte corruptions load or fail cleanly.
        let mut bytes = good.clone();
        for &i in &probes {
            bytes[i] = !good[i];
            let _ = load_bytes(&work, &bytes);
            bytes[i] = good[i];
        }
    }
    // A flipped bit inside a stored storage entry is caught by the zip CRC, not returned as
    // silently wrong weights.
    let mut zipped = std::fs::read(dir.join("zip.pt")).expect("fixture");
    let start = {
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(&zipped)).expect("fixture is a zip");
        let entry = archive.by_name("archive/data/0").expect("storage 0");
        entry.data_start() as usize
    };
    zipped[start + 5] ^= 0x04;
    let err = load_bytes(&work, &zipped).expect_err("CRC mismatch");
    assert!(err.to_string().contains("archive/data/0"), "{err}");
    // Not a checkpoint at all.
    let err = load_bytes(&work, b"hello world, not a checkpoint").expect_err("garbage");
    assert!(matches!(err, CheckpointError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("neither"), "{err}");
    // A missing file.
    let err = Checkpoint::load(&work.join("does-not-exist.pth")).expect_err("missing");
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist.pth"), "{err}");
}

/// The three small pickles that open a legacy file.
fn legacy_preamble() -> Vec<u8> {
    let mut b = vec![0x80, 0x02, 0x8a, 0x0a];
    b.extend_from_slice(&0x1950a86a20f9469cfc6c_u128.to_le_bytes()[..10]);
    b.push(b'.');
    b.extend_from_slice(&[0x80, 0x02, b'M', 0xe9, 0x03, b'.']); // 1001
    b.extend_from_slice(&[0x80, 0x02, b'}', b'.']); // sys_info (empty dict is fine)
    b
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

#[test]
fn unknown_globals_are_refused_by_name() {
    let work = Scratch::new("globals");
    // Legacy: GLOBAL 'os system', REDUCE ('id',).
    let mut legacy = legacy_preamble();
    legacy.extend_from_slice(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.");
    let err = load_bytes(&work, &legacy).expect_err("os.system");
    assert!(
        matches!(&err, CheckpointError::UnsupportedGlobal { module, name, .. }
            if module == "os" && name == "system"),
        "{err}"
    );
    assert!(err.to_string().contains("`os.system`"), "{err}");
    // Zip, protocol 4: STACK_GLOBAL builtins.eval.
    let pkl = b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x011\x85R.";
    let zipped = zip_with(&[("archive/data.pkl", pkl)]);
    let err = load_bytes(&work, &zipped).expect_err("builtins.eval");
    assert!(err.to_string().contains("`builtins.eval`"), "{err}");
    // A TorchScript archive is named as such.
    let ts = zip_with(&[
        ("m/data.pkl", b"\x80\x02}."),
        ("m/constants.pkl", b"\x80\x02)."),
        ("m/code/__torch__.py", b""),
    ]);
    let err = load_bytes(&work, &ts).expect_err("torchscript");
    assert!(err.to_string().contains("TorchScript"), "{err}");
}

#[test]
fn pathological_pickles_fail_cleanly() {
    let work = Scratch::new("pathological");
    // 200,000 nested lists: the VM is iterative, so no stack overflow; not a dict of tensors.
    let mut deep = legacy_preamble();
    deep.extend_from_slice(&[0x80, 0x02]);
    deep.extend(std::iter::repeat_n(b']', 200_000));
    deep.extend(std::iter::repeat_n(b'a', 199_999));
    deep.push(b'.');
    let err = load_bytes(&work, &deep).expect_err("deep");
    assert!(matches!(err, CheckpointError::NoTensors { .. }), "{err}");

    // One memoised list of 20,000 pairs passed to OrderedDict 20,000 times: without a bound
    // on copying this would build 4e8 dict entries from a 220 kB file.
    let mut bomb = legacy_preamble();
    bomb.extend_from_slice(b"\x80\x02(");
    for _ in 0..20_000 {
        bomb.extend_from_slice(b"K\x00K\x00\x86");
    }
    bomb.extend_from_slice(b"lq\x00ccollections\nOrderedDict\nq\x01");
    for _ in 0..20_000 {
        bomb.extend_from_slice(b"h\x01h\x00\x85R0");
    }
    bomb.extend_from_slice(b"}.");
    let err = load_bytes(&work, &bomb).expect_err("bomb");
    assert!(err.to_string().contains("copies too many"), "{err}");

    // A tensor claiming 2^40 elements of a 4-element storage: refused before allocating.
    let huge = b"\x80\x02}q\x00X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n\
((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ\
K\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x85K\x01\x85\x89}tRs.";
    let zipped = zip_with(&[("archive/data.pkl", huge), ("archive/data/0", &[0u8; 16])]);
    let err = load_bytes(&work, &zipped).expect_err("huge");
    assert!(matches!(err, CheckpointError::Malformed { .. }), "{err}");

    // The same tensor with a sane size loads (the hand-written pickle itself is valid).
    let sane = b"\x80\x02}q\x00X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n\
((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ\
K\x01K\x03\x85K\x01\x85\x89}tRs.";
    let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let zipped = zip_with(&[("archive/data.pkl", sane), ("archive/data/0", &data)]);
    let ckpt = load_bytes(&work, &zipped).expect("sane pickle loads");
    assert_eq!(ckpt.get("w").expect("w").data, vec![2.0, 3.0, 4.0]);

    // Unknown opcode.
    let mut op = legacy_preamble();
    op.extend_from_slice(b"\x80\x02\xff.");
    let err = load_bytes(&work, &op).expect_err("opcode");
    assert!(err.to_string().contains("opcode 0xff"), "{err}");

    // A storage whose data is shorter than the persistent id says.
    let zipped = zip_with(&[("archive/data.pkl", sane), ("archive/data/0", &[0u8; 8])]);
    let err = load_bytes(&work, &zipped).expect_err("short storage");
    assert!(err.to_string().contains("storage '0'"), "{err}");
}

#[test]
fn expect_messages_name_key_file_and_shapes() {
    let (dir, _) = fixtures("expect");
    let path = dir.join("legacy.pt");
    let ckpt = load(&path);
    assert!(ckpt.expect("conv.weight", &[4, 3, 2, 2]).is_ok());

    let err = ckpt.expect("conv.wieght", &[4, 3, 2, 2]).expect_err("typo");
    let msg = err.to_string();
    assert!(msg.contains("`conv.wieght`"), "{msg}");
    assert!(msg.contains("`conv.weight`"), "similar key listed: {msg}");
    assert!(msg.contains("legacy.pt"), "file named: {msg}");
    match &err {
        CheckpointError::MissingKey { similar, .. } => {
            assert!(!similar.is_empty() && similar.len() <= 3, "{similar:?}");
            assert_eq!(similar[0], "conv.weight");
        }
        e => panic!("wrong error {e}"),
    }

    let err = ckpt
        .expect("conv.weight", &[4, 3, 3, 3])
        .expect_err("shape");
    let msg = err.to_string();
    assert!(msg.contains("`conv.weight`"), "{msg}");
    assert!(msg.contains("[4, 3, 3, 3]"), "expected shape: {msg}");
    assert!(msg.contains("[4, 3, 2, 2]"), "actual shape: {msg}");

    // In memory.
    let mem = Checkpoint::from_tensors(sample_tensors());
    assert_eq!(mem.format, Format::InMemory);
    assert_eq!(
        mem.keys().collect::<Vec<_>>(),
        ["a.weight", "b", "empty", "z.long.name.bias"]
    );
    let err = mem.expect("a.bias", &[2]).expect_err("missing");
    assert!(err.to_string().contains("(in memory)"), "{err}");
    assert!(Checkpoint::from_tensors(BTreeMap::new()).is_empty());
}

/// A generator checkpoint with a NaN or an infinity in one tensor, or with tensors of another
/// model beside the generator's, is refused naming the tensor (a BatchNorm's
/// `num_batches_tracked` counter is not a weight and is accepted).
#[test]
fn generator_checkpoints_with_bad_values_or_foreign_tensors_are_refused() {
    use wav2lip::model::{Model, random_checkpoint};
    let good = random_checkpoint(5);
    let mut tensors: BTreeMap<String, Tensor> = good.tensors().clone();
    let key = "face_decoder_blocks.3.1.conv_block.0.weight";
    let mut bad = tensors.clone();
    bad.get_mut(key).expect("layer").data[17] = f32::NAN;
    let err = Model::from_checkpoint(&Checkpoint::from_tensors(bad)).expect_err("NaN");
    let msg = err.to_string();
    assert!(
        msg.contains(key) && msg.contains("NaN") && msg.contains("index 17"),
        "{msg}"
    );
    let mut bad = tensors.clone();
    bad.get_mut("output_block.1.bias").expect("bias").data[0] = f32::NEG_INFINITY;
    let msg = Model::from_checkpoint(&Checkpoint::from_tensors(bad))
        .expect_err("inf")
        .to_string();
    assert!(
        msg.contains("output_block.1.bias") && msg.contains("-inf"),
        "{msg}"
    );

    tensors.insert(
        "face_encoder_blocks.0.0.conv_block.1.num_batches_tracked".into(),
        Tensor {
            shape: vec![],
            data: vec![100.0],
        },
    );
    assert!(Model::from_checkpoint(&Checkpoint::from_tensors(tensors.clone())).is_ok());
    tensors.insert(
        "syncnet.audio_encoder.0.weight".into(),
        Tensor {
            shape: vec![1],
            data: vec![0.0],
        },
    );
    let msg = Model::from_checkpoint(&Checkpoint::from_tensors(tensors))
        .expect_err("foreign tensor")
        .to_string();
    assert!(msg.contains("`syncnet.audio_encoder.0.weight`"), "{msg}");
    assert!(msg.contains("1 tensor(s) the model does not use"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Optional: files from a real torch.save
// ---------------------------------------------------------------------------------------------

const TORCH_SAVE_PY: &str = r#"
import collections, json, os, struct, sys
import torch
out = sys.argv[1]
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.PReLU(4),
                          torch.nn.Flatten(), torch.nn.Linear(5, 6))
with torch.no_grad():
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    net[1].num_batches_tracked.fill_(77)
x = torch.arange(24, dtype=torch.float32)
extra = {
    "t": torch.randn(3, 5).t(),
    "view_a": x[2:8],
    "view_b": x[4:].view(4, 5)[:, 1:3],
    "perm": torch.randn(2, 3, 4).permute(2, 0, 1),
    "half": torch.randn(4, 3).half().t(),
    "bf16": torch.randn(6).bfloat16(),
    "f64": torch.randn(2, 3, dtype=torch.float64),
    "i32": torch.tensor([[1, -2], [3, 4]], dtype=torch.int32),
    "u8": torch.tensor([0, 255], dtype=torch.uint8),
    "flag": torch.tensor([True, False]),
    "expand": torch.randn(3, 1).expand(3, 4),
    "param": torch.nn.Parameter(torch.randn(2, 2)),
    "scalar": torch.tensor(3.5),
}
sd = collections.OrderedDict(("module." + k, v) for k, v in
                             list(net.state_dict().items()) + list(extra.items()))
obj = {"state_dict": sd, "epoch": 3, "optimizer": {"lr": 0.1}}
torch.save(obj, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
torch.save(obj, os.path.join(out, "zip.pth"))
torch.save(obj, os.path.join(out, "zip_p4.pth"), pickle_protocol=4)
torch.save(net.state_dict(), os.path.join(out, "plain.pth"), _use_new_zipfile_serialization=False)
def f32_bits(values):
    return [struct.unpack("<I", struct.pack("<f", v))[0] for v in values]
expected = {k[len("module."):]: {"shape": list(v.shape),
                                  "bits": f32_bits(v.detach().double().flatten().tolist())}
            for k, v in sd.items()}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
"#;

#[test]
fn real_torch_save_files() {
    let Ok(pythonpath) = std::env::var("WAV2LIP_TORCH_PYTHONPATH") else {
        test_support::skip(
            "wav2lip real_torch_save_files",
            "set WAV2LIP_TORCH_PYTHONPATH to a directory with torch",
        );
        return;
    };
    let dir = Scratch::new("torch_save");
    let dir_arg = dir.to_string_lossy().into_owned();
    run_python(&["-c", TORCH_SAVE_PY, &dir_arg], Some(&pythonpath));
    let expected = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected: serde_json::Value = serde_json::from_str(&expected).expect("json");
    for (file, format) in [
        ("legacy.pth", Format::LegacyPickle),
        ("zip.pth", Format::TorchZip),
        ("zip_p4.pth", Format::TorchZip),
    ] {
        let ckpt = load(&dir.join(file));
        assert_eq!(ckpt.format, format, "{file}");
        assert_matches(&ckpt, &expected, file);
    }
    let plain = load(&dir.join("plain.pth"));
    assert_eq!(plain.len(), 10, "{:?}", plain.keys().collect::<Vec<_>>());
    assert_eq!(
        plain
            .expect("1.num_batches_tracked", &[])
            .expect("nbt")
            .data,
        vec![77.0]
    );
}
