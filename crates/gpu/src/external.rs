//! Buffers whose memory can leave wgpu: allocated by us through Vulkan (ash) as exportable
//! memory, wrapped into `wgpu::Buffer`s through wgpu-hal, and exported as opaque POSIX file
//! descriptors (`VK_KHR_external_memory_fd`) that CUDA (or another Vulkan device) imports.
//!
//! This is the one place in the crate with Vulkan-level `unsafe`. wgpu cannot export memory
//! it allocated itself, so the `VkBuffer` and its `VkDeviceMemory` are created here and handed
//! to wgpu-hal as a *managed* buffer: wgpu frees both when the `wgpu::Buffer` is dropped and
//! the GPU is done with it. Allocations are never dedicated (CUDA would then need its
//! dedicated-memory flag).

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use ash::vk;
use wgpu::hal::api::Vulkan;
use wgpu::hal::vulkan as hal_vk;

use crate::{GpuContext, GpuError, Nv12Layout};

const HANDLE_TYPE: vk::ExternalMemoryHandleTypeFlags = vk::ExternalMemoryHandleTypeFlags::OPAQUE_FD;

/// What this device offers for sharing memory with CUDA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalMemoryInfo {
    /// VkPhysicalDeviceIDProperties::deviceUUID (None off Vulkan).
    pub device_uuid: Option<[u8; 16]>,
    /// The device was created with VK_KHR_external_memory_fd.
    pub fd_export: bool,
    /// Why not, when `fd_export` is false.
    pub why_not: Option<String>,
}

/// The Vulkan handles we need, copied out of wgpu's hal device.
struct Raw {
    instance: ash::Instance,
    device: ash::Device,
    physical: vk::PhysicalDevice,
    fd_export: bool,
}

fn raw(ctx: &GpuContext) -> Result<Raw, GpuError> {
    // SAFETY: we only copy handles and function tables out of the hal device; nothing is
    // destroyed through them, and they are used only while `ctx.device` (which every buffer
    // made here keeps alive) exists.
    let hal = unsafe { ctx.device.as_hal::<Vulkan>() }.ok_or_else(|| {
        GpuError::External(format!(
            "adapter {} is not a Vulkan device; sharing memory with CUDA needs Vulkan",
            ctx.adapter
        ))
    })?;
    let fd_export = hal
        .enabled_device_extensions()
        .contains(&ash::khr::external_memory_fd::NAME);
    Ok(Raw {
        instance: hal.shared_instance().raw_instance().clone(),
        device: hal.raw_device().clone(),
        physical: hal.raw_physical_device(),
        fd_export,
    })
}

/// Reports the device UUID and whether memory can be exported as a file descriptor.
pub fn external_memory_info(ctx: &GpuContext) -> ExternalMemoryInfo {
    let r = match raw(ctx) {
        Ok(r) => r,
        Err(e) => {
            return ExternalMemoryInfo {
                device_uuid: None,
                fd_export: false,
                why_not: Some(e.to_string()),
            };
        }
    };
    let mut id = vk::PhysicalDeviceIDProperties::default();
    let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut id);
    // SAFETY: `physical` belongs to `instance`; Vulkan 1.1 (wgpu's minimum) has this query.
    unsafe {
        r.instance
            .get_physical_device_properties2(r.physical, &mut props)
    };
    ExternalMemoryInfo {
        device_uuid: Some(id.device_uuid),
        fd_export: r.fd_export,
        why_not: (!r.fd_export).then(|| {
            "the Vulkan driver does not offer VK_KHR_external_memory_fd (wgpu feature \
             VULKAN_EXTERNAL_MEMORY_FD)"
                .to_owned()
        }),
    }
}

/// Picks a memory type allowed by `bits`, preferring device-local memory.
fn memory_type(r: &Raw, bits: u32) -> Result<u32, GpuError> {
    // SAFETY: `physical` belongs to `instance`.
    let props = unsafe { r.instance.get_physical_device_memory_properties(r.physical) };
    let types = &props.memory_types[..props.memory_type_count as usize];
    let allowed = |i: usize| bits & (1 << i) != 0;
    (0..types.len())
        .find(|&i| {
            allowed(i)
                && types[i]
                    .property_flags
                    .contains(vk::MemoryPropertyFlags::DEVICE_LOCAL)
        })
        .or_else(|| (0..types.len()).find(|&i| allowed(i)))
        .map(|i| i as u32)
        .ok_or_else(|| GpuError::External("no memory type can back an exportable buffer".into()))
}

const VK_USAGE: vk::BufferUsageFlags = vk::BufferUsageFlags::from_raw(
    vk::BufferUsageFlags::TRANSFER_SRC.as_raw()
        | vk::BufferUsageFlags::TRANSFER_DST.as_raw()
        | vk::BufferUsageFlags::STORAGE_BUFFER.as_raw(),
);

/// Checks that the driver can export buffers of our usage as opaque fds from non-dedicated
/// allocations (NVIDIA and lavapipe can; a driver that demands dedicated allocations gets a
/// clear error instead of a failure deep in CUDA).
fn check_exportable(r: &Raw) -> Result<(), GpuError> {
    let info = vk::PhysicalDeviceExternalBufferInfo::default()
        .usage(VK_USAGE)
        .handle_type(HANDLE_TYPE);
    let mut props = vk::ExternalBufferProperties::default();
    // SAFETY: `physical` belongs to `instance`; a Vulkan 1.1 query with valid structs.
    unsafe {
        r.instance
            .get_physical_device_external_buffer_properties(r.physical, &info, &mut props)
    };
    let features = props.external_memory_properties.external_memory_features;
    if !features.contains(vk::ExternalMemoryFeatureFlags::EXPORTABLE) {
        return Err(GpuError::External(
            "the Vulkan driver cannot export buffers as opaque file descriptors".into(),
        ));
    }
    if features.contains(vk::ExternalMemoryFeatureFlags::DEDICATED_ONLY) {
        return Err(GpuError::External(
            "the Vulkan driver exports buffers only from dedicated allocations, which this \
             renderer does not make (CUDA would need its dedicated-memory flag)"
                .into(),
        ));
    }
    Ok(())
}

const WGPU_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::STORAGE);

fn vk_error(what: &str, e: vk::Result) -> GpuError {
    GpuError::External(format!("{what} failed: {e}"))
}

/// Creates a VkBuffer of `size` bytes marked for external memory, binds `memory_for(reqs)`
/// to it, and wraps both as a wgpu buffer (COPY_SRC | COPY_DST | STORAGE) that owns them.
fn wrap(
    ctx: &GpuContext,
    r: &Raw,
    size: u64,
    label: &str,
    memory_for: impl FnOnce(&vk::MemoryRequirements) -> Result<(vk::DeviceMemory, u32), GpuError>,
) -> Result<(wgpu::Buffer, u64, u32), GpuError> {
    let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(HANDLE_TYPE);
    let info = vk::BufferCreateInfo::default()
        .size(size)
        .usage(VK_USAGE)
        .sharing_mode(vk::SharingMode::EXCLUSIVE)
        .push_next(&mut external);
    // SAFETY: valid create info on a live device; the buffer is destroyed below on failure or
    // by wgpu-hal once wrapped.
    let buffer = unsafe { r.device.create_buffer(&info, None) }
        .map_err(|e| vk_error("vkCreateBuffer (exportable)", e))?;
    // SAFETY: `buffer` was just created on this device.
    let reqs = unsafe { r.device.get_buffer_memory_requirements(buffer) };
    let (memory, type_index) = match memory_for(&reqs) {
        Ok(m) => m,
        Err(e) => {
            // SAFETY: the buffer is unused and ours.
            unsafe { r.device.destroy_buffer(buffer, None) };
            return Err(e);
        }
    };
    // SAFETY: `memory` is at least `reqs.size` bytes of an allowed type; offset 0 is aligned.
    if let Err(e) = unsafe { r.device.bind_buffer_memory(buffer, memory, 0) } {
        // SAFETY: both are unused and ours.
        unsafe {
            r.device.destroy_buffer(buffer, None);
            r.device.free_memory(memory, None);
        }
        return Err(vk_error("vkBindBufferMemory", e));
    }
    // SAFETY: wgpu-hal takes ownership of `buffer` and `memory` (freed when the wgpu buffer is
    // destroyed); the buffer is never mapped by wgpu (no MAP_* usage); range is the whole
    // allocation's first `size` bytes.
    let hal_buffer = unsafe { hal_vk::Buffer::from_raw_managed(buffer, memory, 0, size) };
    // SAFETY: made on this device, with the usages in `WGPU_USAGE`, bound to memory, non-empty.
    let wgpu_buffer = unsafe {
        ctx.device.create_buffer_from_hal::<Vulkan>(
            hal_buffer,
            &wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: WGPU_USAGE,
                mapped_at_creation: false,
            },
        )
    };
    Ok((wgpu_buffer, reqs.size, type_index))
}

/// A wgpu buffer backed by exportable Vulkan memory.
pub struct ExportableBuffer {
    buffer: wgpu::Buffer,
    size: u64,
    allocation_size: u64,
    memory_type: u32,
    memory: vk::DeviceMemory,
    fd_device: ash::khr::external_memory_fd::Device,
}

impl std::fmt::Debug for ExportableBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportableBuffer")
            .field("size", &self.size)
            .field("allocation_size", &self.allocation_size)
            .field("memory_type", &self.memory_type)
            .finish_non_exhaustive()
    }
}

impl ExportableBuffer {
    /// Allocates `size` bytes of exportable memory as a COPY_SRC | COPY_DST | STORAGE buffer.
    /// Fails (no panic) where the device has no VK_KHR_external_memory_fd.
    pub fn new(ctx: &GpuContext, size: u64, label: &str) -> Result<Self, GpuError> {
        if size == 0 {
            return Err(GpuError::Config("an exportable buffer needs a size".into()));
        }
        let r = raw(ctx)?;
        if !r.fd_export {
            return Err(GpuError::External(format!(
                "adapter {} cannot export memory: its Vulkan driver lacks \
                 VK_KHR_external_memory_fd",
                ctx.adapter
            )));
        }
        check_exportable(&r)?;
        let mut memory = vk::DeviceMemory::null();
        let (buffer, allocation_size, memory_type) = wrap(ctx, &r, size, label, |reqs| {
            let type_index = memory_type(&r, reqs.memory_type_bits)?;
            let mut export = vk::ExportMemoryAllocateInfo::default().handle_types(HANDLE_TYPE);
            let info = vk::MemoryAllocateInfo::default()
                .allocation_size(reqs.size)
                .memory_type_index(type_index)
                .push_next(&mut export);
            // SAFETY: valid allocate info (type allowed by the requirements).
            let m = unsafe { r.device.allocate_memory(&info, None) }
                .map_err(|e| vk_error("vkAllocateMemory (exportable)", e))?;
            memory = m;
            Ok((m, type_index))
        })?;
        Ok(Self {
            buffer,
            size,
            allocation_size,
            memory_type,
            memory,
            fd_device: ash::khr::external_memory_fd::Device::new(&r.instance, &r.device),
        })
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Bytes usable through the buffer.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of the underlying allocation (what an importer must be told).
    pub fn allocation_size(&self) -> u64 {
        self.allocation_size
    }

    /// Exports the memory as a new file descriptor (each call makes a new one; the importer
    /// takes ownership of it, or dropping the `OwnedFd` closes it).
    pub fn export_fd(&self) -> Result<OwnedFd, GpuError> {
        let info = vk::MemoryGetFdInfoKHR::default()
            .memory(self.memory)
            .handle_type(HANDLE_TYPE);
        // SAFETY: `memory` is alive while `self.buffer` is (wgpu frees it only after the
        // buffer is dropped), and was allocated exportable as OPAQUE_FD.
        let fd = unsafe { self.fd_device.get_memory_fd(&info) }
            .map_err(|e| vk_error("vkGetMemoryFdKHR", e))?;
        // SAFETY: vkGetMemoryFdKHR returns a new descriptor that the caller owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Imports `fd` (exported from memory like this buffer's, on the same device) as a second
    /// allocation, bound to a new buffer of `self.size()` bytes: a round-trip check of the
    /// export path. The fd is consumed.
    pub fn import_copy(&self, ctx: &GpuContext, fd: OwnedFd) -> Result<wgpu::Buffer, GpuError> {
        let r = raw(ctx)?;
        let (buffer, _, _) = wrap(ctx, &r, self.size, "external.import", |reqs| {
            let raw_fd = {
                use std::os::fd::AsRawFd;
                fd.as_raw_fd()
            };
            let mut import = vk::ImportMemoryFdInfoKHR::default()
                .handle_type(HANDLE_TYPE)
                .fd(raw_fd);
            let info = vk::MemoryAllocateInfo::default()
                .allocation_size(self.allocation_size.max(reqs.size))
                .memory_type_index(self.memory_type)
                .push_next(&mut import);
            // SAFETY: `fd` is an OPAQUE_FD export of memory of this type and size on this
            // device; on success Vulkan owns the descriptor.
            let m = unsafe { r.device.allocate_memory(&info, None) }
                .map_err(|e| vk_error("vkAllocateMemory (import)", e))?;
            let _ = fd.into_raw_fd();
            Ok((m, self.memory_type))
        })?;
        Ok(buffer)
    }
}

/// A ring of exportable buffers, each holding one NV12 frame laid out as `layout`.
#[derive(Debug)]
pub struct ExternalRing {
    slots: Vec<ExportableBuffer>,
    layout: Nv12Layout,
}

impl ExternalRing {
    pub fn new(ctx: &GpuContext, layout: Nv12Layout, slots: usize) -> Result<Self, GpuError> {
        let slots = (0..slots.max(1))
            .map(|i| ExportableBuffer::new(ctx, layout.size, &format!("external.nv12.slot{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { slots, layout })
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn slot(&self, i: usize) -> &ExportableBuffer {
        &self.slots[i % self.slots.len()]
    }

    pub fn layout(&self) -> Nv12Layout {
        self.layout
    }
}
