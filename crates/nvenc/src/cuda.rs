//! The CUDA driver API (libcuda.so.1), loaded at run time: devices and their UUIDs, a context,
//! and Vulkan memory imported as external memory (an opaque file descriptor).

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use libloading::Library;

use crate::NvencError;

/// The CUDA driver's library name (the driver installs it; there is no toolkit dependency).
pub const CUDA_LIBRARY: &str = "libcuda.so.1";

type CUresult = c_int;
type CUdevice = c_int;
type CUcontext = *mut c_void;
type CUexternalMemory = *mut c_void;
pub(crate) type CUdeviceptr = u64;

const CUDA_SUCCESS: CUresult = 0;
const CUDA_ERROR_NO_DEVICE: CUresult = 100;
const CUDA_ERROR_INSUFFICIENT_DRIVER: CUresult = 35;
const CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD: c_uint = 1;

#[repr(C)]
struct ExternalMemoryHandleDesc {
    kind: c_uint,
    /// The union of `int fd` and a Win32 handle pair (16 bytes, pointer-aligned).
    handle: [u64; 2],
    size: u64,
    flags: c_uint,
    reserved: [c_uint; 16],
}

#[repr(C)]
struct ExternalMemoryBufferDesc {
    offset: u64,
    size: u64,
    flags: c_uint,
    reserved: [c_uint; 16],
}

/// The driver functions we use, resolved from the library that `_lib` keeps loaded.
pub struct Cuda {
    _lib: Library,
    library: String,
    init: unsafe extern "C" fn(c_uint) -> CUresult,
    driver_get_version: unsafe extern "C" fn(*mut c_int) -> CUresult,
    device_get_count: unsafe extern "C" fn(*mut c_int) -> CUresult,
    device_get: unsafe extern "C" fn(*mut CUdevice, c_int) -> CUresult,
    device_get_name: unsafe extern "C" fn(*mut c_char, c_int, CUdevice) -> CUresult,
    device_get_uuid: unsafe extern "C" fn(*mut [u8; 16], CUdevice) -> CUresult,
    ctx_create: unsafe extern "C" fn(*mut CUcontext, c_uint, CUdevice) -> CUresult,
    ctx_destroy: unsafe extern "C" fn(CUcontext) -> CUresult,
    ctx_push: unsafe extern "C" fn(CUcontext) -> CUresult,
    ctx_pop: unsafe extern "C" fn(*mut CUcontext) -> CUresult,
    import_external_memory:
        unsafe extern "C" fn(*mut CUexternalMemory, *const ExternalMemoryHandleDesc) -> CUresult,
    external_memory_get_mapped_buffer: unsafe extern "C" fn(
        *mut CUdeviceptr,
        CUexternalMemory,
        *const ExternalMemoryBufferDesc,
    ) -> CUresult,
    destroy_external_memory: unsafe extern "C" fn(CUexternalMemory) -> CUresult,
    mem_free: unsafe extern "C" fn(CUdeviceptr) -> CUresult,
    memcpy_dtoh: unsafe extern "C" fn(*mut c_void, CUdeviceptr, usize) -> CUresult,
    get_error_name: unsafe extern "C" fn(CUresult, *mut *const c_char) -> CUresult,
}

impl std::fmt::Debug for Cuda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cuda")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

/// Resolves `name` in `lib` as a function pointer of type `T`.
///
/// # Safety
/// `T` must be the function's true C signature.
pub(crate) unsafe fn symbol<T: Copy>(
    lib: &Library,
    library: &str,
    name: &str,
) -> Result<T, NvencError> {
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    // SAFETY: the caller promises that `T` matches the symbol's signature; the pointer is
    // used only while `lib` stays loaded (the loaded structs keep their `Library`).
    unsafe { lib.get::<T>(&cname) }
        .map(|s| *s)
        .map_err(|e| NvencError::MissingSymbol {
            library: library.to_owned(),
            symbol: name.to_owned(),
            reason: e.to_string(),
        })
}

/// One CUDA device as the driver lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaDevice {
    pub ordinal: i32,
    pub name: String,
    /// The same 16 bytes as Vulkan's `VkPhysicalDeviceIDProperties::deviceUUID`.
    pub uuid: [u8; 16],
}

/// Formats a UUID as 8-4-4-4-12 hex digits.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

impl Cuda {
    /// Loads the CUDA driver from the system (`libcuda.so.1`, or the file named by
    /// `NVENC_CUDA_LIBRARY`) and initialises it.
    pub fn load() -> Result<Arc<Self>, NvencError> {
        match std::env::var_os("NVENC_CUDA_LIBRARY") {
            Some(p) => Self::load_from(Path::new(&p)),
            None => Self::load_from(Path::new(CUDA_LIBRARY)),
        }
    }

    /// Loads a CUDA driver library from `path` and initialises it. A missing file, a library
    /// that is not CUDA's, or a driver without a device are errors, never panics.
    pub fn load_from(path: &Path) -> Result<Arc<Self>, NvencError> {
        let library = path.display().to_string();
        // SAFETY: loading a shared library runs its initialisers; libcuda's are the NVIDIA
        // driver's own and have no preconditions on us.
        let lib = unsafe { Library::new(path) }.map_err(|e| NvencError::NoDriver {
            library: library.clone(),
            reason: e.to_string(),
        })?;
        // SAFETY: for each `symbol` call, the types are the signatures of cuda.h (driver API,
        // 64-bit CUdeviceptr); the `_v2` names are the ones cuda.h maps the plain names to.
        let cuda = unsafe {
            Self {
                init: symbol(&lib, &library, "cuInit")?,
                driver_get_version: symbol(&lib, &library, "cuDriverGetVersion")?,
                device_get_count: symbol(&lib, &library, "cuDeviceGetCount")?,
                device_get: symbol(&lib, &library, "cuDeviceGet")?,
                device_get_name: symbol(&lib, &library, "cuDeviceGetName")?,
                device_get_uuid: symbol(&lib, &library, "cuDeviceGetUuid_v2")
                    .or_else(|_| symbol(&lib, &library, "cuDeviceGetUuid"))?,
                ctx_create: symbol(&lib, &library, "cuCtxCreate_v2")?,
                ctx_destroy: symbol(&lib, &library, "cuCtxDestroy_v2")?,
                ctx_push: symbol(&lib, &library, "cuCtxPushCurrent_v2")?,
                ctx_pop: symbol(&lib, &library, "cuCtxPopCurrent_v2")?,
                import_external_memory: symbol(&lib, &library, "cuImportExternalMemory")?,
                external_memory_get_mapped_buffer: symbol(
                    &lib,
                    &library,
                    "cuExternalMemoryGetMappedBuffer",
                )?,
                destroy_external_memory: symbol(&lib, &library, "cuDestroyExternalMemory")?,
                mem_free: symbol(&lib, &library, "cuMemFree_v2")?,
                memcpy_dtoh: symbol(&lib, &library, "cuMemcpyDtoH_v2")?,
                get_error_name: symbol(&lib, &library, "cuGetErrorName")?,
                _lib: lib,
                library,
            }
        };
        // SAFETY: cuInit takes flags (must be 0) and may be called any number of times.
        let r = unsafe { (cuda.init)(0) };
        match r {
            CUDA_SUCCESS => {}
            CUDA_ERROR_NO_DEVICE => {
                return Err(NvencError::NoCudaDevice {
                    detail: "cuInit: CUDA_ERROR_NO_DEVICE".into(),
                });
            }
            CUDA_ERROR_INSUFFICIENT_DRIVER => {
                return Err(NvencError::NoDriver {
                    library: cuda.library.clone(),
                    reason: "cuInit: CUDA_ERROR_INSUFFICIENT_DRIVER (the kernel driver is \
                             missing or older than this libcuda)"
                        .into(),
                });
            }
            code => return Err(cuda.error("cuInit", code)),
        }
        Ok(Arc::new(cuda))
    }

    fn error(&self, call: &'static str, code: CUresult) -> NvencError {
        let mut name: *const c_char = std::ptr::null();
        // SAFETY: cuGetErrorName writes a pointer to a static string (or fails) into `name`.
        let ok = unsafe { (self.get_error_name)(code, &mut name) } == CUDA_SUCCESS;
        let name = if ok && !name.is_null() {
            // SAFETY: on success `name` points to a NUL-terminated static string.
            unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned()
        } else {
            "unknown CUDA error".to_owned()
        };
        NvencError::Cuda { call, code, name }
    }

    fn check(&self, call: &'static str, code: CUresult) -> Result<(), NvencError> {
        if code == CUDA_SUCCESS {
            Ok(())
        } else {
            Err(self.error(call, code))
        }
    }

    /// The driver's CUDA version as (major, minor), e.g. (12, 4).
    pub fn driver_version(&self) -> Result<(i32, i32), NvencError> {
        let mut v = 0;
        // SAFETY: `v` is a valid out-pointer.
        self.check("cuDriverGetVersion", unsafe {
            (self.driver_get_version)(&mut v)
        })?;
        Ok((v / 1000, (v % 1000) / 10))
    }

    /// Every CUDA device with its name and UUID.
    pub fn devices(&self) -> Result<Vec<CudaDevice>, NvencError> {
        let mut count = 0;
        // SAFETY: `count` is a valid out-pointer.
        self.check("cuDeviceGetCount", unsafe {
            (self.device_get_count)(&mut count)
        })?;
        let mut out = Vec::new();
        for ordinal in 0..count {
            let mut dev: CUdevice = 0;
            // SAFETY: `dev` is a valid out-pointer; `ordinal` < count.
            self.check("cuDeviceGet", unsafe {
                (self.device_get)(&mut dev, ordinal)
            })?;
            let mut name = [0 as c_char; 256];
            // SAFETY: the buffer holds `name.len()` bytes; the driver NUL-terminates.
            self.check("cuDeviceGetName", unsafe {
                (self.device_get_name)(name.as_mut_ptr(), name.len() as c_int, dev)
            })?;
            let mut uuid = [0u8; 16];
            // SAFETY: CUuuid is 16 bytes; `uuid` is a valid out-pointer.
            self.check("cuDeviceGetUuid", unsafe {
                (self.device_get_uuid)(&mut uuid, dev)
            })?;
            out.push(CudaDevice {
                ordinal: dev,
                // SAFETY: NUL-terminated by the driver within the buffer (zeroed beforehand).
                name: unsafe { CStr::from_ptr(name.as_ptr()) }
                    .to_string_lossy()
                    .into_owned(),
                uuid,
            });
        }
        if out.is_empty() {
            return Err(NvencError::NoCudaDevice {
                detail: "cuDeviceGetCount returned 0".into(),
            });
        }
        Ok(out)
    }

    /// The device whose UUID is `uuid` (the Vulkan adapter's), or the first one with `None`.
    pub fn device_for(&self, uuid: Option<[u8; 16]>) -> Result<CudaDevice, NvencError> {
        let devices = self.devices()?;
        match uuid {
            None => Ok(devices[0].clone()),
            Some(u) => devices
                .iter()
                .find(|d| d.uuid == u)
                .cloned()
                .ok_or_else(|| NvencError::NoMatchingDevice {
                    wanted: format_uuid(&u),
                    seen: devices
                        .iter()
                        .map(|d| format!("{} {}", d.name, format_uuid(&d.uuid)))
                        .collect::<Vec<_>>()
                        .join("; "),
                }),
        }
    }
}

struct ContextInner {
    cuda: Arc<Cuda>,
    ctx: CUcontext,
    device: CudaDevice,
}

// SAFETY: a CUDA context may be made current on any thread (cuCtxPushCurrent); every use here
// pushes it for the duration of a call and pops it again.
unsafe impl Send for ContextInner {}
// SAFETY: as above; the driver API is thread-safe.
unsafe impl Sync for ContextInner {}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // SAFETY: `ctx` was created by cuCtxCreate and is destroyed once, here, after every
        // ExternalBuffer and NVENC session holding an Arc to it is gone.
        unsafe { (self.cuda.ctx_destroy)(self.ctx) };
    }
}

/// A CUDA context on one device. Cheap to clone.
#[derive(Clone)]
pub struct CudaContext(Arc<ContextInner>);

impl std::fmt::Debug for CudaContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaContext")
            .field("device", &self.0.device)
            .finish_non_exhaustive()
    }
}

/// Keeps a context current on this thread until dropped.
pub(crate) struct Bound(Arc<ContextInner>);

impl Drop for Bound {
    fn drop(&mut self) {
        let mut old: CUcontext = std::ptr::null_mut();
        // SAFETY: pops the context pushed by `CudaContext::bind` on this thread.
        unsafe { (self.0.cuda.ctx_pop)(&mut old) };
    }
}

impl CudaContext {
    /// Creates a context on `device`.
    pub fn new(cuda: Arc<Cuda>, device: CudaDevice) -> Result<Self, NvencError> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: `ctx` is a valid out-pointer; flags 0 = automatic scheduling.
        cuda.check("cuCtxCreate", unsafe {
            (cuda.ctx_create)(&mut ctx, 0, device.ordinal)
        })?;
        // cuCtxCreate made it current on this thread: pop it, every use pushes it again.
        let mut old: CUcontext = std::ptr::null_mut();
        // SAFETY: pops the context just pushed by cuCtxCreate.
        unsafe { (cuda.ctx_pop)(&mut old) };
        Ok(Self(Arc::new(ContextInner { cuda, ctx, device })))
    }

    pub fn device(&self) -> &CudaDevice {
        &self.0.device
    }

    pub(crate) fn raw(&self) -> *mut c_void {
        self.0.ctx
    }

    pub(crate) fn bind(&self) -> Result<Bound, NvencError> {
        // SAFETY: `ctx` is a live context owned by `self`.
        self.0.cuda.check("cuCtxPushCurrent", unsafe {
            (self.0.cuda.ctx_push)(self.0.ctx)
        })?;
        Ok(Bound(self.0.clone()))
    }

    /// Imports Vulkan memory exported as an opaque file descriptor and maps `size` bytes from
    /// `offset` as a device pointer. `allocation_size` must be the allocation's size
    /// (`VkMemoryAllocateInfo::allocationSize`), not the buffer's. The fd is handed to the
    /// driver on success and closed on failure.
    pub fn import_fd(
        &self,
        fd: OwnedFd,
        allocation_size: u64,
        offset: u64,
        size: u64,
    ) -> Result<ExternalBuffer, NvencError> {
        if offset
            .checked_add(size)
            .is_none_or(|end| end > allocation_size)
            || size == 0
        {
            return Err(NvencError::Config(format!(
                "cannot map {size} bytes at offset {offset} of a {allocation_size}-byte allocation"
            )));
        }
        let _bound = self.bind()?;
        let cuda = &self.0.cuda;
        let raw_fd = {
            use std::os::fd::AsRawFd;
            fd.as_raw_fd()
        };
        let desc = ExternalMemoryHandleDesc {
            kind: CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD,
            handle: [raw_fd as u32 as u64, 0],
            size: allocation_size,
            flags: 0,
            reserved: [0; 16],
        };
        let mut ext: CUexternalMemory = std::ptr::null_mut();
        // SAFETY: `desc` describes a live fd we own; `ext` is a valid out-pointer. The context
        // is current (`_bound`).
        cuda.check("cuImportExternalMemory", unsafe {
            (cuda.import_external_memory)(&mut ext, &desc)
        })?;
        // Success: the driver owns the descriptor now (it closes it when the memory goes).
        let _ = fd.into_raw_fd();
        let mut buffer = ExternalBuffer {
            ctx: self.clone(),
            ext,
            ptr: 0,
            size,
        };
        let bdesc = ExternalMemoryBufferDesc {
            offset,
            size,
            flags: 0,
            reserved: [0; 16],
        };
        let mut ptr: CUdeviceptr = 0;
        // SAFETY: `ext` is the live external memory imported above; range checked above.
        cuda.check("cuExternalMemoryGetMappedBuffer", unsafe {
            (cuda.external_memory_get_mapped_buffer)(&mut ptr, ext, &bdesc)
        })?;
        buffer.ptr = ptr;
        Ok(buffer)
    }
}

/// Vulkan memory mapped into CUDA's address space. Unmapped and released on drop.
pub struct ExternalBuffer {
    ctx: CudaContext,
    ext: CUexternalMemory,
    ptr: CUdeviceptr,
    size: u64,
}

// SAFETY: the handles are plain driver handles usable from any thread with the context pushed,
// which every method does.
unsafe impl Send for ExternalBuffer {}

impl std::fmt::Debug for ExternalBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalBuffer")
            .field("ptr", &format_args!("{:#x}", self.ptr))
            .field("size", &self.size)
            .finish()
    }
}

impl ExternalBuffer {
    /// The CUDA device pointer of the mapped range.
    pub fn device_ptr(&self) -> u64 {
        self.ptr
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn context(&self) -> &CudaContext {
        &self.ctx
    }

    /// Copies the whole mapped range to host memory (for checks; the encode path never does).
    pub fn copy_to_host(&self, dst: &mut [u8]) -> Result<(), NvencError> {
        if dst.len() as u64 != self.size {
            return Err(NvencError::Config(format!(
                "host buffer of {} bytes for a {}-byte device buffer",
                dst.len(),
                self.size
            )));
        }
        let _bound = self.ctx.bind()?;
        let cuda = &self.ctx.0.cuda;
        // SAFETY: `dst` has exactly `size` writable bytes; `ptr` maps `size` bytes.
        cuda.check("cuMemcpyDtoH", unsafe {
            (cuda.memcpy_dtoh)(dst.as_mut_ptr().cast(), self.ptr, dst.len())
        })
    }
}

impl Drop for ExternalBuffer {
    fn drop(&mut self) {
        let Ok(_bound) = self.ctx.bind() else {
            return;
        };
        let cuda = &self.ctx.0.cuda;
        // SAFETY: `ptr` (if mapped) came from cuExternalMemoryGetMappedBuffer and `ext` from
        // cuImportExternalMemory; each is released once, mapping first.
        unsafe {
            if self.ptr != 0 {
                (cuda.mem_free)(self.ptr);
            }
            (cuda.destroy_external_memory)(self.ext);
        }
    }
}
