//! Unit tests of `mtcnn`.

use super::*;

#[test]
fn ceil_mode_pool_sizes_match_the_networks() {
    // R-Net: 24 -> conv 22 -> pool 11 -> conv 9 -> pool 4 -> conv(k2) 3.
    assert_eq!(pool_out(22, 3, 2), 11);
    assert_eq!(pool_out(9, 3, 2), 4);
    // O-Net: 48 -> 46 -> 23 -> 21 -> 10 -> 8 -> 4 -> conv(k2) 3.
    assert_eq!(pool_out(46, 3, 2), 23);
    assert_eq!(pool_out(21, 3, 2), 10);
    assert_eq!(pool_out(8, 2, 2), 4);
    // P-Net: odd sizes round up.
    assert_eq!(pool_out(11, 2, 2), 6);
}

#[test]
fn nms_keeps_the_best_of_overlapping_boxes() {
    let c = |b: [f32; 4], score| Cand {
        b,
        score,
        reg: [0.0; 4],
        lm: [0.0; 10],
    };
    let kept = nms(
        vec![
            c([0.0, 0.0, 10.0, 10.0], 0.8),
            c([1.0, 1.0, 11.0, 11.0], 0.9),
            c([50.0, 50.0, 60.0, 60.0], 0.7),
        ],
        0.5,
        Overlap::Union,
    );
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].score, 0.9);
    assert_eq!(kept[1].score, 0.7);
    // "Min": a small box inside a big one is suppressed whatever the union.
    let kept = nms(
        vec![
            c([0.0, 0.0, 100.0, 100.0], 0.9),
            c([10.0, 10.0, 20.0, 20.0], 0.8),
        ],
        0.7,
        Overlap::Min,
    );
    assert_eq!(kept.len(), 1);
}

#[test]
fn iou_of_known_boxes() {
    assert_eq!(iou([0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0]), 2.0 / 6.0);
    assert_eq!(iou([0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]), 0.0);
}

/// `PoolParams` is private, so its layout check lives here rather than in tests/.
#[test]
fn pool_params_match_the_wgsl_layout() {
    test_support::assert_wgsl_layout!(
        PoolParams,
        "nn/pool.wgsl",
        "PoolParams",
        [n, c, in_h, in_w, out_h, out_w, k, s]
    );
}
