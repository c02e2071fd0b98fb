//! Dev-only helpers shared by the workspace's tests (a dev-dependency of each crate, never a
//! normal one).
//!
//! - [`skip`], [`skip_unless_ci`], [`ci`]: visible skips and the CI flag ([`skip`](mod@skip)).
//! - [`Scratch`]: a scratch folder per test, removed unless the test failed ([`scratch`]).
//! - [`require_ffmpeg`], [`ffmpeg_has_encoder`]: ffmpeg presence ([`ffmpeg`]).
//! - [`browser::require_chromium`], [`browser::open_and_wait_for_report`]: a page in headless
//!   Chromium reporting back to the test ([`browser`]).
//! - [`cdp::Page`]: a page in headless Chromium driven over the DevTools Protocol (evaluate
//!   JavaScript, wait for a condition, take a screenshot) ([`cdp`]).
//! - With the `gpu` feature: [`gpu::context`], one shared GPU context per test process, and
//!   [`assert_wgsl_layout!`], the check that a `#[repr(C)]` host struct matches naga's layout of
//!   its WGSL twin ([`layout`]).
//!
//! The `gpu` feature makes this crate depend on `gpu`, whose own tests use it: a dev-dependency
//! cycle, which Cargo allows. `gpu`'s integration tests link the same `gpu` library as this
//! crate, so the context types agree; only `gpu`'s unit tests (compiled as a second copy of the
//! crate) would see two different `GpuContext` types, and they use only the GPU-free helpers.

pub mod browser;
pub mod cdp;
pub mod ffmpeg;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "gpu")]
pub mod layout;
pub mod scratch;
pub mod skip;

pub use ffmpeg::{ffmpeg_available, ffmpeg_has_encoder, require_ffmpeg};
pub use scratch::Scratch;
pub use skip::{ci, skip, skip_unless_ci};
