//! The zip-format `torch.save` file (PyTorch 1.6 and later): `<top>/data.pkl` is the pickle,
//! `<top>/data/<key>` each storage's raw elements, `<top>/byteorder` the byte order. Every
//! entry's size is checked against what its compressed data can hold before it is read, and
//! reading to the entry's end makes the zip reader verify its CRC-32. TorchScript archives
//! are refused with a hint.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use super::decode::{element_budget, materialise};
use super::pickle::{Heap, state_dict, unpickle};
use super::{Fail, Tensor, bad};

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

/// The state dict's tensors of a zip-format torch file.
pub(super) fn load(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Fail> {
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
