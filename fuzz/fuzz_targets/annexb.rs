//! Arbitrary bytes through the Annex-B reader (H.264 and HEVC): access units must tile the
//! stream from the first start code to the end, account for every NAL unit, and the streaming
//! reader fed in fuzzed chunk sizes must hand out exactly the one-shot split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nvenc::Codec;
use nvenc::annexb::{AccessUnitReader, access_units, nal_units};

fuzz_target!(|data: &[u8]| {
    let Some((&head, stream)) = data.split_first() else {
        return;
    };
    let codec = if head & 1 == 0 {
        Codec::H264
    } else {
        Codec::Hevc
    };
    let units = access_units(codec, stream);
    let nals = nal_units(stream);
    assert_eq!(
        units.iter().map(|u| u.nal_count).sum::<usize>(),
        nals.len(),
        "every NAL unit in exactly one access unit"
    );
    for pair in units.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "units are contiguous");
    }
    for u in &units {
        assert!(u.start < u.end && u.end <= stream.len(), "{u:?}");
    }
    if let (Some(first), Some(last)) = (units.first(), units.last()) {
        assert_eq!(Some(first.start), nals.first().map(|n| n.start));
        assert_eq!(last.end, stream.len());
    }
    // The streaming reader, chunk sizes 1, 2, 4 .. 32768 from the head byte's upper bits (the
    // seeds: 0x80, H.264 in 256-byte pushes; 0x71, HEVC in 128-byte pushes). It
    // re-scans its buffer on every push (quadratic in a unit's size for tiny pushes; the
    // encoder hands it whole packets), so a stream is at most 64 pushes long.
    let chunk = 1usize << (head >> 4);
    if stream.len() > 64 * chunk {
        return;
    }
    let mut reader = AccessUnitReader::new(codec);
    let mut streamed = Vec::new();
    for piece in stream.chunks(chunk) {
        streamed.extend(reader.push(piece).into_iter().map(|(_, b)| b));
    }
    streamed.extend(reader.finish().map(|(_, b)| b));
    let oneshot: Vec<&[u8]> = units.iter().map(|u| &stream[u.start..u.end]).collect();
    assert_eq!(
        streamed.len(),
        oneshot.len(),
        "unit count, chunks of {chunk}"
    );
    for (a, b) in streamed.iter().zip(&oneshot) {
        assert_eq!(a.as_slice(), *b, "unit bytes, chunks of {chunk}");
    }
});
