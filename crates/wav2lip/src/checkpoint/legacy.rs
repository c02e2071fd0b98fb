//! The legacy (pre-1.6) `torch.save` stream, as `wav2lip.pth` uses: five pickles (PyTorch's
//! magic number, the protocol version, system info, the object, the list of storage keys),
//! then each listed storage's element count and raw little-endian elements.

use std::collections::{BTreeMap, HashMap};

use super::decode::{Reader, element_budget, materialise};
use super::pickle::{Heap, Obj, state_dict, unpickle};
use super::{Fail, Tensor, bad};

const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
const LEGACY_PROTOCOL: i128 = 1001;

/// The state dict's tensors of a legacy file.
pub(super) fn load(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Fail> {
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
