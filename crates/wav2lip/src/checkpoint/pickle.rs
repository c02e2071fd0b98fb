//! The pickle virtual machine: an iterative interpreter of the opcodes `torch.save` emits (up
//! to protocol 5) over a heap of objects addressed by index, so shared and mutated objects
//! behave as in Python and nothing recurses. Only the callables a tensor checkpoint needs are
//! resolved (containers, `_rebuild_tensor_v2`, `_rebuild_parameter`, the storage types); any
//! other global is refused by name. Container copies are charged against a budget
//! proportional to the input so that memoised objects re-used many times cannot blow up.
//! `state_dict` then finds the tensors in the unpickled object.

use std::collections::HashMap;

use super::decode::{DType, Reader, StorageRef, TensorRef, strip_module};
use super::{Fail, bad};

pub(super) type Id = usize;

/// The Python callables a tensor checkpoint may name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Callable {
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
        ("torch" | "torch.cuda" | "torch.storage", n) => Callable::StorageType(storage_dtype(n)?),
        _ => return None,
    })
}

/// The dtype of a PyTorch storage class (`FloatStorage`, ...).
fn storage_dtype(name: &str) -> Option<DType> {
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

#[derive(Debug, Clone)]
pub(super) enum Obj {
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
    pub(super) fn kind(&self) -> &'static str {
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
pub(super) struct Heap {
    objs: Vec<Obj>,
}

impl Heap {
    pub(super) fn add(&mut self, o: Obj) -> Id {
        self.objs.push(o);
        self.objs.len() - 1
    }

    pub(super) fn get(&self, id: Id) -> &Obj {
        self.objs.get(id).unwrap_or(&Obj::None)
    }

    pub(super) fn str(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn int(&self, id: Id) -> Option<i128> {
        match self.get(id) {
            Obj::Int(v) => Some(*v),
            Obj::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }

    pub(super) fn usize(&self, id: Id, what: &str) -> Result<usize, Fail> {
        self.int(id)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| bad(format!("{what} is not a non-negative integer")))
    }

    pub(super) fn items(&self, id: Id) -> Option<&[Id]> {
        match self.get(id) {
            Obj::Tuple(v) | Obj::List(v) => Some(v),
            _ => None,
        }
    }

    pub(super) fn usizes(&self, id: Id, what: &str) -> Result<Vec<usize>, Fail> {
        let items = self
            .items(id)
            .ok_or_else(|| bad(format!("{what} is not a tuple")))?;
        items.iter().map(|&i| self.usize(i, what)).collect()
    }

    /// The value under the string key `key` of a dict (the last one, as Python keeps).
    pub(super) fn dict_get(&self, id: Id, key: &str) -> Option<Id> {
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
pub(super) fn unpickle(
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
pub(super) fn state_dict(heap: &Heap, root: Id) -> Result<Vec<(String, TensorRef)>, Fail> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_integers_are_twos_complement() {
        for (bytes, v) in [
            (&[][..], 0i128),
            (&[0xff][..], -1),
            (&[0xff, 0x00][..], 255),
            (&[0x00, 0x80][..], -32768),
            (
                &[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19][..],
                0x1950a86a20f9469cfc6c,
            ),
        ] {
            assert_eq!(long_int(bytes).ok(), Some(v), "{bytes:02x?}");
        }
        assert!(long_int(&[0; 17]).is_err());
    }

    /// `os.system` by name, through both GLOBAL and STACK_GLOBAL: refused before any call.
    #[test]
    fn foreign_globals_are_refused_by_name() {
        let global: &[u8] = b"\x80\x02cos\nsystem\n.";
        let stack_global: &[u8] = b"\x80\x04\x8c\x02os\x8c\x06system\x93.";
        for pickle in [global, stack_global] {
            let mut heap = Heap::default();
            match unpickle(pickle, 0, &mut heap, &mut HashMap::new()) {
                Err(Fail::Global { module, name }) => {
                    assert_eq!((&*module, &*name), ("os", "system"))
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
