//! Annex-B byte streams (H.264 / HEVC): NAL units between 3- or 4-byte start codes, their
//! types, and their grouping into access units (one coded picture each).
//!
//! Pure Rust and total: any input, truncated or garbage, yields some (possibly empty) list of
//! units and never panics.

use crate::Codec;

/// One NAL unit of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nal<'a> {
    /// Offset of its start code in the stream.
    pub start: usize,
    /// The unit without start code and without trailing zero bytes.
    pub data: &'a [u8],
}

/// Splits `bytes` at start codes (`00 00 01`, or `00 00 00 01`). Bytes before the first start
/// code are ignored; empty units are skipped.
pub fn nal_units(bytes: &[u8]) -> Vec<Nal<'_>> {
    // Positions just after each `00 00 01`, with the start code's own offset.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        if bytes[i] == 0 && bytes[i + 1] == 0 && bytes[i + 2] == 1 {
            let start = if i > 0 && bytes[i - 1] == 0 { i - 1 } else { i };
            marks.push((start, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(marks.len());
    for (k, &(start, begin)) in marks.iter().enumerate() {
        let end = marks.get(k + 1).map_or(bytes.len(), |&(s, _)| s);
        let mut data = &bytes[begin..end.max(begin)];
        while let [rest @ .., 0] = data {
            data = rest;
        }
        if !data.is_empty() {
            out.push(Nal { start, data });
        }
    }
    out
}

/// The NAL unit type: 5 bits for H.264, 6 bits for HEVC (None when the header is cut off).
pub fn nal_type(codec: Codec, data: &[u8]) -> Option<u8> {
    match codec {
        Codec::H264 => data.first().map(|b| b & 0x1f),
        Codec::Hevc => (data.len() >= 2).then(|| (data[0] >> 1) & 0x3f),
    }
}

/// What a NAL unit is, as far as grouping and key frames are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalKind {
    /// A coded slice; `first` when it begins a picture, `key` for IDR (H.264) or IRAP (HEVC).
    Slice {
        first: bool,
        key: bool,
    },
    AccessUnitDelimiter,
    Vps,
    Sps,
    Pps,
    /// SEI and other non-VCL units that may only precede a picture's first slice.
    Prefix,
    /// Anything else (end of sequence, filler, suffix SEI, reserved types).
    Other,
}

/// Classifies a NAL unit.
pub fn classify(codec: Codec, data: &[u8]) -> NalKind {
    let Some(t) = nal_type(codec, data) else {
        return NalKind::Other;
    };
    match codec {
        Codec::H264 => {
            // first_mb_in_slice is ue(v): the value 0 is the single bit '1'.
            let first = data.get(1).is_some_and(|b| b & 0x80 != 0);
            match t {
                1..=5 => NalKind::Slice { first, key: t == 5 },
                6 | 14..=18 => NalKind::Prefix,
                7 => NalKind::Sps,
                8 => NalKind::Pps,
                9 => NalKind::AccessUnitDelimiter,
                _ => NalKind::Other,
            }
        }
        Codec::Hevc => {
            // first_slice_segment_in_pic_flag is the first bit after the 2-byte header.
            let first = data.get(2).is_some_and(|b| b & 0x80 != 0);
            match t {
                0..=9 | 16..=21 => NalKind::Slice {
                    first,
                    key: (16..=23).contains(&t),
                },
                32 => NalKind::Vps,
                33 => NalKind::Sps,
                34 => NalKind::Pps,
                35 => NalKind::AccessUnitDelimiter,
                39 | 41..=44 | 48..=55 => NalKind::Prefix,
                _ => NalKind::Other,
            }
        }
    }
}

/// One access unit: the byte range of a coded picture and its parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessUnit {
    /// Byte range in the stream (from its first start code to the next unit's).
    pub start: usize,
    pub end: usize,
    pub nal_count: usize,
    pub slices: usize,
    /// IDR (H.264) / IRAP (HEVC) picture.
    pub key: bool,
    pub has_vps: bool,
    pub has_sps: bool,
    pub has_pps: bool,
}

/// Groups the NAL units of `bytes` into access units, in decoding order.
///
/// A unit starts at an access unit delimiter, at a parameter set or prefix unit that follows a
/// slice, or at a slice that begins a picture (first_mb_in_slice = 0 /
/// first_slice_segment_in_pic_flag = 1) after a slice. Leading units with no slice (e.g. a
/// cut-off stream's tail) are kept as a unit with `slices == 0`.
pub fn access_units(codec: Codec, bytes: &[u8]) -> Vec<AccessUnit> {
    let mut out: Vec<AccessUnit> = Vec::new();
    let mut cur: Option<AccessUnit> = None;
    for nal in nal_units(bytes) {
        let kind = classify(codec, nal.data);
        let starts_new = match (&cur, kind) {
            (None, _) => true,
            (Some(_), NalKind::AccessUnitDelimiter) => true,
            (Some(au), NalKind::Vps | NalKind::Sps | NalKind::Pps | NalKind::Prefix) => {
                au.slices > 0
            }
            (Some(au), NalKind::Slice { first, .. }) => au.slices > 0 && first,
            (Some(_), NalKind::Other) => false,
        };
        if starts_new {
            if let Some(mut au) = cur.take() {
                au.end = nal.start;
                out.push(au);
            }
            cur = Some(AccessUnit {
                start: nal.start,
                ..AccessUnit::default()
            });
        }
        if let Some(au) = cur.as_mut() {
            au.nal_count += 1;
            match kind {
                NalKind::Slice { key, .. } => {
                    au.slices += 1;
                    au.key |= key;
                }
                NalKind::Vps => au.has_vps = true,
                NalKind::Sps => au.has_sps = true,
                NalKind::Pps => au.has_pps = true,
                _ => {}
            }
        }
    }
    if let Some(mut au) = cur {
        au.end = bytes.len();
        out.push(au);
    }
    out
}

/// A streaming packetiser: push bytes as they come, take whole access units out.
///
/// An access unit is handed out once the start of the next one has been seen (or at
/// [`AccessUnitReader::finish`]); memory stays at about one access unit.
#[derive(Debug)]
pub struct AccessUnitReader {
    codec: Codec,
    buf: Vec<u8>,
}

impl AccessUnitReader {
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            buf: Vec::new(),
        }
    }

    /// Appends `bytes` and returns every access unit now complete, as owned bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<(AccessUnit, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let units = access_units(self.codec, &self.buf);
        if units.len() < 2 {
            return Vec::new();
        }
        let keep_from = units[units.len() - 1].start;
        let out = units[..units.len() - 1]
            .iter()
            .map(|au| {
                let mut a = *au;
                let bytes = self.buf[a.start..a.end].to_vec();
                a.end -= a.start;
                a.start = 0;
                (a, bytes)
            })
            .collect();
        self.buf.drain(..keep_from);
        out
    }

    /// The last access unit, if any bytes are left.
    pub fn finish(mut self) -> Option<(AccessUnit, Vec<u8>)> {
        let units = access_units(self.codec, &self.buf);
        let au = *units.last()?;
        let bytes = self.buf.split_off(au.start);
        let len = bytes.len();
        Some((
            AccessUnit {
                start: 0,
                end: len,
                ..au
            },
            bytes,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_and_four_byte_start_codes() {
        let s = [
            0, 0, 0, 1, 0x67, 0xaa, 0, 0, 1, 0x68, 0xbb, 0, 0, 0, 1, 0x65, 0x88, 0x11,
        ];
        let n = nal_units(&s);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].start, 0);
        assert_eq!(n[0].data, &[0x67, 0xaa]);
        assert_eq!(n[1].start, 6);
        assert_eq!(n[1].data, &[0x68, 0xbb]);
        assert_eq!(n[2].start, 11);
        assert_eq!(n[2].data, &[0x65, 0x88, 0x11]);
        let aus = access_units(Codec::H264, &s);
        assert_eq!(aus.len(), 1);
        assert!(aus[0].key && aus[0].has_sps && aus[0].has_pps);
        assert_eq!(aus[0].slices, 1);
    }

    #[test]
    fn slices_of_one_picture_stay_together() {
        // Two slices of one IDR picture (first_mb 0, then first_mb != 0), then a P picture.
        let s = [
            0, 0, 1, 0x65, 0x80, 0, 0, 1, 0x65, 0x40, 0, 0, 1, 0x41, 0x80, 0, 0, 1, 0x41, 0x20,
        ];
        let aus = access_units(Codec::H264, &s);
        assert_eq!(aus.len(), 2);
        assert_eq!((aus[0].slices, aus[0].key), (2, true));
        assert_eq!((aus[1].slices, aus[1].key), (2, false));
        assert_eq!(aus[0].end, aus[1].start);
        assert_eq!(aus[1].end, s.len());
    }
}
