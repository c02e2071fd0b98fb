//! The one check that a `#[repr(C)]` host struct mirrors a WGSL struct: the host's size and
//! field offsets against naga's layout of the struct in the composed, validated shader file
//! (ARCHITECTURE.md: every host/WGSL pair has one). Use [`assert_wgsl_layout!`].

/// Size in bytes and `(member name, offset)` list of WGSL struct `name` in the embedded shader
/// `file` (composed with its imports and validated; a partial file such as the custom layer's
/// gets a minimal `shade` first).
pub fn wgsl_struct(file: &str, name: &str) -> (usize, Vec<(String, usize)>) {
    let mut src = gpu::shaders::compose(file).unwrap_or_else(|e| panic!("compose {file}: {e}"));
    if gpu::shaders::PARTIAL.contains(&file) {
        src =
            format!("fn shade(input: ShadeInput) -> vec4<f32> {{ return vec4<f32>(0.0); }}\n{src}");
    }
    let module = gpu::shaders::validate(file, &src).unwrap_or_else(|e| panic!("{e}"));
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .unwrap_or_else(|e| panic!("layout of {file}: {e}"));
    let (handle, members) = module
        .types
        .iter()
        .find_map(|(h, t)| match (&t.name, &t.inner) {
            (Some(n), naga::TypeInner::Struct { members, .. }) if n == name => Some((h, members)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no struct {name} in {file}"));
    let members = members
        .iter()
        .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
        .collect();
    (layouter[handle].size as usize, members)
}

/// Asserts that a host struct of `host_size` bytes with `host_fields` (name, offset) matches
/// WGSL struct `wgsl_name` in `file`: the same size; every listed field a WGSL member at the
/// same offset; and every WGSL member listed, except padding (a name starting with `_`), so a
/// field added on one side only fails too. Call it through [`assert_wgsl_layout!`].
pub fn assert_layout(file: &str, wgsl_name: &str, host_size: usize, host_fields: &[(&str, usize)]) {
    let (size, members) = wgsl_struct(file, wgsl_name);
    assert_eq!(
        size, host_size,
        "{file}: size of {wgsl_name} (WGSL vs host)"
    );
    for &(field, offset) in host_fields {
        let wgsl = members
            .iter()
            .find(|(m, _)| m == field)
            .map(|(_, o)| *o)
            .unwrap_or_else(|| panic!("{file}: {wgsl_name} has no member {field}"));
        assert_eq!(
            wgsl, offset,
            "{file}: offset of {wgsl_name}.{field} (WGSL vs host)"
        );
    }
    let unlisted: Vec<&str> = members
        .iter()
        .map(|(m, _)| m.as_str())
        .filter(|m| !m.starts_with('_') && !host_fields.iter().any(|(f, _)| f == m))
        .collect();
    assert!(
        unlisted.is_empty(),
        "{file}: {wgsl_name} members {unlisted:?} have no host field in the check"
    );
}

/// `assert_wgsl_layout!(HostType, "file.wgsl", "WgslName", [field, ...])`: [`assert_layout`]
/// with the host type's `size_of` and the `offset_of` of each named field (WGSL member names
/// equal to the host's field names).
#[macro_export]
macro_rules! assert_wgsl_layout {
    ($ty:ty, $file:expr, $wgsl:expr, [$($field:ident),* $(,)?]) => {
        $crate::layout::assert_layout(
            $file,
            $wgsl,
            ::std::mem::size_of::<$ty>(),
            &[$((::std::stringify!($field), ::std::mem::offset_of!($ty, $field))),*],
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check can fail: a wrong size, a wrong offset and an unlisted WGSL member each panic.
    #[test]
    fn mismatches_fail() {
        // shaders/nn/pool.wgsl: PoolParams is eight u32s, `k` at 24.
        let fields: Vec<(&str, usize)> = ["n", "c", "in_h", "in_w", "out_h", "out_w", "k", "s"]
            .iter()
            .enumerate()
            .map(|(i, f)| (*f, 4 * i))
            .collect();
        assert_layout("nn/pool.wgsl", "PoolParams", 32, &fields);
        let fails = |size: usize, fields: &[(&str, usize)]| {
            std::panic::catch_unwind(|| assert_layout("nn/pool.wgsl", "PoolParams", size, fields))
                .is_err()
        };
        assert!(fails(36, &fields), "wrong size passed");
        let mut moved = fields.clone();
        moved[6].1 = 28;
        assert!(fails(32, &moved), "wrong offset passed");
        assert!(fails(32, &fields[..7]), "an unlisted member passed");
    }
}
