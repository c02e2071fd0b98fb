/* A stand-in for libcuda.so.1, for tests on machines without NVIDIA hardware.
 *
 * It implements the handful of driver-API entry points the nvenc crate calls. "Device memory"
 * is host memory: an imported external-memory file descriptor (lavapipe exports memfds) is
 * mmap'ed, so a device pointer is a host address and cuMemcpyDtoH is memcpy. Compile-time
 * options: -DFAKE_UUID=0x..,0x.. (16 bytes, the device UUID), -DFAKE_NO_DEVICE (cuInit fails
 * with CUDA_ERROR_NO_DEVICE). Written for this project's tests; not NVIDIA code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/mman.h>

#ifndef FAKE_UUID
#define FAKE_UUID 0
#endif

typedef struct {
    unsigned int type;
    union { int fd; struct { void *handle; const void *name; } win32; } handle;
    unsigned long long size;
    unsigned int flags;
    unsigned int reserved[16];
} HandleDesc;
_Static_assert(sizeof(HandleDesc) == 104, "CUDA_EXTERNAL_MEMORY_HANDLE_DESC size");
_Static_assert(offsetof(HandleDesc, size) == 24, "CUDA_EXTERNAL_MEMORY_HANDLE_DESC.size");

typedef struct {
    unsigned long long offset;
    unsigned long long size;
    unsigned int flags;
    unsigned int reserved[16];
} BufferDesc;

typedef struct { void *map; size_t map_size; void *base; size_t size; } Ext;

static int depth = 0;

int cuInit(unsigned int flags) {
#ifdef FAKE_NO_DEVICE
    return 100;
#endif
    return flags == 0 ? 0 : 1;
}
int cuDriverGetVersion(int *v) { *v = 12040; return 0; }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDeviceGet(int *d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
int cuDeviceGetName(char *name, int len, int dev) {
    (void)dev; strncpy(name, "Fake CUDA Device", (size_t)len); name[len - 1] = 0; return 0;
}
int cuDeviceGetUuid_v2(unsigned char *uuid, int dev) {
    static const unsigned char u[16] = { FAKE_UUID };
    (void)dev; memcpy(uuid, u, 16); return 0;
}
int cuCtxCreate_v2(void **ctx, unsigned int flags, int dev) {
    (void)flags; (void)dev; *ctx = (void *)0x1000; depth++; return 0;
}
int cuCtxDestroy_v2(void *ctx) { return ctx == (void *)0x1000 ? 0 : 201; }
int cuCtxPushCurrent_v2(void *ctx) { if (ctx != (void *)0x1000) return 201; depth++; return 0; }
int cuCtxPopCurrent_v2(void **ctx) { if (depth <= 0) return 201; depth--; if (ctx) *ctx = (void *)0x1000; return 0; }
/* Contexts must be current for these calls, as with the real driver. */
#define NEED_CTX() do { if (depth <= 0) return 201; } while (0)

/* lavapipe's opaque fds are memfds that start with a small header (Mesa's os_memory_fd:
 * total size, offset of the bytes, a driver hash); the allocation's bytes start at that offset,
 * as lavapipe's own import finds them. Other fds are mapped from offset 0. */
int cuImportExternalMemory(Ext **out, const HandleDesc *d) {
    NEED_CTX();
    if (d->type != 1 || d->handle.fd < 0 || d->size == 0) return 1;
    size_t header[2] = {0, 0};
    size_t map_size = d->size, offset = 0;
    if (pread(d->handle.fd, header, sizeof header, 0) == (ssize_t)sizeof header
        && header[1] > 0 && header[1] <= 65536 && header[0] >= header[1] + d->size) {
        map_size = header[0];
        offset = header[1];
    }
    void *p = mmap(NULL, map_size, PROT_READ, MAP_SHARED, d->handle.fd, 0);
    if (p == MAP_FAILED) return 999;
    close(d->handle.fd); /* the driver owns the descriptor after a successful import */
    Ext *e = malloc(sizeof *e);
    e->map = p; e->map_size = map_size;
    e->base = (char *)p + offset; e->size = d->size;
    *out = e;
    return 0;
}
int cuExternalMemoryGetMappedBuffer(unsigned long long *ptr, Ext *e, const BufferDesc *b) {
    NEED_CTX();
    if (b->offset + b->size > e->size) return 1;
    *ptr = (unsigned long long)(uintptr_t)((char *)e->base + b->offset);
    return 0;
}
int cuDestroyExternalMemory(Ext *e) { NEED_CTX(); munmap(e->map, e->map_size); free(e); return 0; }
int cuMemFree_v2(unsigned long long p) { NEED_CTX(); return p ? 0 : 1; }
int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
    NEED_CTX(); memcpy(dst, (const void *)(uintptr_t)src, n); return 0;
}
int cuGetErrorName(int code, const char **s) {
    *s = code == 100 ? "CUDA_ERROR_NO_DEVICE" : code == 201 ? "CUDA_ERROR_INVALID_CONTEXT"
       : "CUDA_ERROR_FAKE";
    return 0;
}
