//! One GPU context per test process and adapter kind, created on first use and shared by the
//! tests of that process (device creation dominates small GPU tests). Without an adapter each
//! caller records a visible skip, and under CI fails.

use std::sync::OnceLock;

use gpu::{AdapterChoice, GpuContext};

/// Which adapter a test wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// Whatever [`AdapterChoice::Auto`] picks (a hardware GPU where there is one).
    Auto,
    /// A software adapter (Mesa lavapipe) only: reference images depend on its rasteriser.
    Cpu,
    /// A software adapter (deterministic), else whatever [`AdapterChoice::Auto`] picks.
    CpuFirst,
}

impl Adapter {
    fn create(self) -> Result<GpuContext, String> {
        let ctx = match self {
            Self::Auto => GpuContext::new(&AdapterChoice::Auto),
            Self::Cpu => GpuContext::new(&AdapterChoice::Cpu),
            Self::CpuFirst => GpuContext::new(&AdapterChoice::Cpu)
                .or_else(|_| GpuContext::new(&AdapterChoice::Auto)),
        };
        ctx.map_err(|e| e.to_string())
    }

    fn cache(self) -> &'static OnceLock<Result<GpuContext, String>> {
        static AUTO: OnceLock<Result<GpuContext, String>> = OnceLock::new();
        static CPU: OnceLock<Result<GpuContext, String>> = OnceLock::new();
        static CPU_FIRST: OnceLock<Result<GpuContext, String>> = OnceLock::new();
        match self {
            Self::Auto => &AUTO,
            Self::Cpu => &CPU,
            Self::CpuFirst => &CPU_FIRST,
        }
    }
}

/// The shared context on `adapter`, or None after a visible skip of `test` (a failure under CI)
/// when no such adapter exists.
pub fn context(test: &str, adapter: Adapter) -> Option<&'static GpuContext> {
    match adapter.cache().get_or_init(|| adapter.create()) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            crate::skip_unless_ci(test, &format!("no GPU adapter: {e}"));
            None
        }
    }
}
