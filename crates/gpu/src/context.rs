//! Instance, adapter selection and device creation.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use crate::GpuError;

/// Which adapter to render on (`[video] adapter` in a job file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AdapterChoice {
    /// Prefer a hardware GPU; fall back to a software adapter with a warning.
    #[default]
    Auto,
    /// A hardware GPU or an error listing what was seen.
    Gpu,
    /// A software (CPU) adapter such as Mesa's lavapipe/llvmpipe.
    Cpu,
    /// The first adapter whose name contains this text (case-insensitive).
    Name(String),
}

impl FromStr for AdapterChoice {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Self::Auto,
            "gpu" => Self::Gpu,
            "cpu" => Self::Cpu,
            _ => Self::Name(s.trim().to_owned()),
        })
    }
}

impl fmt::Display for AdapterChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Gpu => f.write_str("gpu"),
            Self::Cpu => f.write_str("cpu"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

/// What we tell users about an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// True for CPU (software) rasterisers: lavapipe, llvmpipe, SwiftShader, WARP.
    pub software: bool,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if self.software {
            f.write_str(", software")?;
        }
        f.write_str(")")
    }
}

/// The wgpu features the tensor-core (cooperative-matrix, f16) kernels need.
pub const COOPERATIVE_MATRIX_FEATURES: wgpu::Features =
    wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX.union(wgpu::Features::SHADER_F16);

/// Opt-in device features for [`GpuContext::with_options`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextOptions {
    /// Request cooperative matrices and f16 where the adapter offers them (wgpu marks them
    /// experimental; a warning says so when the adapter lacks them).
    pub cooperative_matrix: bool,
}

/// Largest storage binding and buffer this crate asks for (2 GiB): what the lip-sync batches
/// and MTCNN's pyramid need at most, well inside what any GPU's heap allows.
pub const MAX_BINDING_BYTES: u64 = 1 << 31;

/// The limits a device is requested with: the adapter's own (so workgroup memory, batch sizes
/// and the detector's pyramid follow the hardware instead of the WebGL-era downlevel
/// defaults), with buffer sizes capped at [`MAX_BINDING_BYTES`].
pub fn device_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    let mut limits = adapter.clone();
    limits.max_storage_buffer_binding_size = limits
        .max_storage_buffer_binding_size
        .min(MAX_BINDING_BYTES);
    limits.max_buffer_size = limits.max_buffer_size.min(MAX_BINDING_BYTES);
    limits
}

/// True when an adapter rasterises on the CPU.
pub fn is_software_adapter(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || [
            "llvmpipe",
            "lavapipe",
            "swiftshader",
            "microsoft basic render",
        ]
        .iter()
        .any(|s| name.contains(s))
}

fn summarize(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_owned(),
        software: is_software_adapter(info),
    }
}

fn rank(info: &wgpu::AdapterInfo) -> u8 {
    if is_software_adapter(info) {
        return 0;
    }
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        _ => 1,
    }
}

/// Errors reported by wgpu outside an error scope, collected instead of panicking.
type ErrorLog = Arc<Mutex<Vec<String>>>;

/// One wgpu device and queue, with the adapter that made them.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    errors: ErrorLog,
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.flags = wgpu::InstanceFlags::from_build_config();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc.with_env())
}

/// Every adapter wgpu can see on this machine.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY.with_env()))
        .iter()
        .map(|a| summarize(&a.get_info()))
        .collect()
}

impl GpuContext {
    /// Selects an adapter by `choice` and creates a device on it.
    ///
    /// `Auto` prefers hardware and logs a warning when only a software adapter exists; the
    /// returned [`AdapterSummary::software`] says so, for the render summary.
    pub fn new(choice: &AdapterChoice) -> Result<Self, GpuError> {
        Self::with_options(choice, ContextOptions::default())
    }

    /// [`Self::new`] with opt-in device features.
    pub fn with_options(choice: &AdapterChoice, options: ContextOptions) -> Result<Self, GpuError> {
        let instance = instance();
        let adapters =
            pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY.with_env()));
        let seen = || {
            let list: Vec<String> = adapters
                .iter()
                .map(|a| summarize(&a.get_info()).to_string())
                .collect();
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.join("; ")
            }
        };
        let mut ranked: Vec<&wgpu::Adapter> = adapters.iter().collect();
        ranked.sort_by_key(|a| std::cmp::Reverse(rank(&a.get_info())));
        let not_found = |why: &str| GpuError::AdapterNotFound {
            wanted: choice.to_string(),
            why: why.to_owned(),
            seen: seen(),
        };
        let adapter = match choice {
            AdapterChoice::Auto => *ranked.first().ok_or(GpuError::NoAdapter)?,
            AdapterChoice::Gpu => *ranked
                .iter()
                .find(|a| !is_software_adapter(&a.get_info()))
                .ok_or_else(|| {
                    not_found(
                        "only software (CPU) adapters are available; install your GPU's Vulkan \
                         driver, or set adapter = \"auto\" or \"cpu\" to render on the CPU",
                    )
                })?,
            AdapterChoice::Cpu => *ranked
                .iter()
                .find(|a| is_software_adapter(&a.get_info()))
                .ok_or_else(|| {
                    not_found(
                        "no software adapter; install Mesa's lavapipe: \
                         `apt-get install mesa-vulkan-drivers`",
                    )
                })?,
            AdapterChoice::Name(name) => {
                let needle = name.to_ascii_lowercase();
                *ranked
                    .iter()
                    .find(|a| a.get_info().name.to_ascii_lowercase().contains(&needle))
                    .ok_or_else(|| not_found("no adapter name contains that text"))?
            }
        };
        let summary = summarize(&adapter.get_info());
        if summary.software && *choice == AdapterChoice::Auto {
            log::warn!(
                "only a software adapter was found ({summary}): frames are drawn on the CPU. \
                 Install your GPU's Vulkan driver to render on the GPU."
            );
        }
        // Exportable memory (zero-copy hand-off to CUDA/NVENC) where the driver offers it;
        // adapters without it work as before.
        let mut required_features = adapter.features() & wgpu::Features::VULKAN_EXTERNAL_MEMORY_FD;
        let mut experimental_features = wgpu::ExperimentalFeatures::disabled();
        if options.cooperative_matrix {
            let wanted = COOPERATIVE_MATRIX_FEATURES;
            if adapter.features().contains(wanted) {
                required_features |= wanted;
                // SAFETY: wgpu's experimental cooperative-matrix support is asked for only when
                // a job opts in (its documentation calls that path unverified); we accept
                // wgpu's terms for experimental features (bugs in them may be undefined
                // behaviour, to be reported upstream). Nothing else uses the feature.
                experimental_features = unsafe { wgpu::ExperimentalFeatures::enabled() };
            } else {
                log::warn!(
                    "cooperative matrices (tensor cores) were asked for, but {summary} does not \
                     offer them ({:?} missing)",
                    wanted - adapter.features()
                );
            }
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("renderer.device"),
            required_features,
            required_limits: device_limits(&adapter.limits()),
            experimental_features,
            ..Default::default()
        }))
        .map_err(|e| GpuError::RequestDevice {
            adapter: summary.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self::from_device(device, queue, summary))
    }

    /// Wraps a device the embedder created. Installs handlers that turn uncaptured wgpu errors
    /// and device loss into [`GpuError`]s (reported by [`GpuContext::check`]) instead of panics.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, adapter: AdapterSummary) -> Self {
        let errors: ErrorLog = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let sink = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            if reason != wgpu::DeviceLostReason::Destroyed
                && let Ok(mut v) = sink.lock()
            {
                v.push(format!("device lost ({reason:?}): {message}"));
            }
        });
        Self {
            device,
            queue,
            adapter,
            errors,
        }
    }

    /// Returns the first GPU error recorded since the last check, if any.
    pub fn check(&self) -> Result<(), GpuError> {
        let mut errors = self
            .errors
            .lock()
            .map_err(|_| GpuError::Validation("error log poisoned".into()))?;
        if errors.is_empty() {
            return Ok(());
        }
        let first = errors.remove(0);
        errors.clear();
        if first.starts_with("device lost") {
            Err(GpuError::DeviceLost(first))
        } else {
            Err(GpuError::Validation(first))
        }
    }
}
