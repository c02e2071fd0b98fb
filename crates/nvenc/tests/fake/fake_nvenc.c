/* A stand-in for libnvidia-encode.so.1, for tests on machines without NVENC.
 *
 * It checks what the nvenc crate passes (struct versions, the fields at the byte offsets of
 * nvEncodeAPI.h 12.1 as printed by gcc from the SDK header, the call order) and answers like the
 * driver: an "encoded" frame is an access unit taken in turn from a real Annex-B file
 * (-DSTREAM="path", split at H.264 access unit delimiters) or, without one, a few synthetic NAL
 * units. It reads every input frame through the registered pointer and, with -DLOG="path",
 * writes one line per frame with the mean of the Y, Cb and Cr samples it saw.
 * Options: -DFAKE_MAX_VERSION=0xB1 (driver supports API 11.1), -DFAKE_OPEN_STATUS=n
 * (nvEncOpenEncodeSessionEx fails with status n), -DFAKE_H264_ONLY.
 * Written for this project's tests; not NVIDIA code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_VERSION (12u | (1u << 24))
#define SV(v) (API_VERSION | ((v) << 16) | (7u << 28))
#define U32(p, off) (*(uint32_t *)((char *)(p) + (off)))
#define PTR(p, off) (*(void **)((char *)(p) + (off)))

#ifndef FAKE_MAX_VERSION
#define FAKE_MAX_VERSION ((12u << 4) | 2u)
#endif
#ifndef FAKE_OPEN_STATUS
#define FAKE_OPEN_STATUS 0
#endif

static const unsigned char H264_GUID[16] = {0x62,0x27,0xc8,0x6b,0x63,0x4e,0xa4,0x4c,0xaa,0x85,0x1e,0x50,0xf3,0x21,0xf6,0xbf};
static const unsigned char HEVC_GUID[16] = {0x88,0xdc,0x0c,0x79,0x22,0x45,0x7b,0x4d,0x94,0x25,0xbd,0xa9,0x97,0x5f,0x76,0x03};

typedef struct {
    int hevc, initialized;
    uint32_t width, height, idr;
    void *inputs[16]; uint32_t pitches[16]; int n_inputs;
    int mapped[16];
    unsigned char *out; size_t out_len; int locked;
    uint32_t frame; int eos;
    unsigned char *stream; size_t stream_len;
    size_t au_start[4096]; int n_au;
} Enc;

static char last_error[256] = "";
static int fail(const char *what) { snprintf(last_error, sizeof last_error, "fake NVENC: %s", what); return 8; }

int NvEncodeAPIGetMaxSupportedVersion(uint32_t *v) { *v = FAKE_MAX_VERSION; return 0; }

static int open_ex(void *p, void **enc) {
    if (U32(p, 0) != SV(1)) return 15;
    if (U32(p, 4) != 1) return fail("deviceType is not CUDA");
    if (PTR(p, 8) == NULL) return fail("no CUDA context");
    if (U32(p, 24) != API_VERSION) return 15;
    if (FAKE_OPEN_STATUS) return FAKE_OPEN_STATUS;
    *enc = calloc(1, sizeof(Enc));
    return 0;
}
static int guid_count(Enc *e, uint32_t *n) { (void)e;
#ifdef FAKE_H264_ONLY
    *n = 1;
#else
    *n = 2;
#endif
    return 0; }
static int guids(Enc *e, unsigned char *g, uint32_t size, uint32_t *n) {
    uint32_t count; guid_count(e, &count);
    if (size < count) return 8;
    memcpy(g, H264_GUID, 16);
    if (count > 1) memcpy(g + 16, HEVC_GUID, 16);
    *n = count; return 0;
}
/* GUIDs are passed by value: 16 bytes, as two 8-byte words in registers on x86-64. */
typedef struct { unsigned char b[16]; } Guid;
static int preset_ex(Enc *e, Guid codec, Guid preset, uint32_t tuning, void *cfg) {
    (void)e; (void)preset;
    if (U32(cfg, 0) != (SV(4) | (1u << 31))) return 15;
    if (U32(cfg, 8) != (SV(8) | (1u << 31))) return fail("presetCfg.version is not NV_ENC_CONFIG_VER");
    if (tuning < 1 || tuning > 4) return fail("tuning info");
    if (memcmp(codec.b, H264_GUID, 16) && memcmp(codec.b, HEVC_GUID, 16)) return fail("codec GUID");
    U32(cfg, 8 + 20) = 250;      /* gopLength: the caller must set its own */
    U32(cfg, 8 + 24) = 3;        /* frameIntervalP: B-frames, the caller must disable them */
    return 0;
}
static int load_stream(Enc *e);
static int initialize(Enc *e, void *p) {
    if (U32(p, 0) != (SV(6) | (1u << 31))) return 15;
    e->hevc = !memcmp((char *)p + 4, HEVC_GUID, 16);
    if (!e->hevc && memcmp((char *)p + 4, H264_GUID, 16)) return fail("encodeGUID");
    e->width = U32(p, 36); e->height = U32(p, 40);
    if (!e->width || !e->height) return fail("encode size");
    if (!U32(p, 52) || !U32(p, 56)) return fail("frame rate");
    if (U32(p, 64) != 1) return fail("enablePTD must be 1");
    if (U32(p, 140) != 1) return fail("bufferFormat is not NV12");
    void *c = PTR(p, 88);
    if (!c || U32(c, 0) != (SV(8) | (1u << 31))) return fail("encodeConfig missing or wrong version");
    uint32_t gop = U32(c, 20);
    if (U32(c, 24) != 1) return fail("frameIntervalP must be 1 (no B-frames)");
    uint32_t idr = e->hevc ? U32(c, 168 + 20) : U32(c, 168 + 8);
    if (!gop || idr != gop) return fail("idrPeriod must equal gopLength");
    uint32_t vui = e->hevc ? 168 + 64 : 168 + 72;
    if (U32(c, vui + 8) != 1 || U32(c, vui + 16) != 0 || U32(c, vui + 20) != 1
        || U32(c, vui + 24) != 1 || U32(c, vui + 28) != 1 || U32(c, vui + 32) != 1)
        return fail("VUI must say BT.709, limited range");
    e->idr = idr;
    e->initialized = 1;
    return load_stream(e);
}
static int create_bitstream(Enc *e, void *p) {
    if (!e->initialized) return 11;
    if (U32(p, 0) != SV(1)) return 15;
    PTR(p, 16) = (void *)e;
    return 0;
}
static int destroy_bitstream(Enc *e, void *b) { return b == e ? 0 : 6; }
static int reg(Enc *e, void *p) {
    if (U32(p, 0) != SV(4)) return 15;
    if (U32(p, 4) != 1) return fail("resourceType is not CUDADEVICEPTR");
    if (U32(p, 8) != e->width || U32(p, 12) != e->height) return fail("registered size");
    uint32_t pitch = U32(p, 16);
    if (pitch % 4 || pitch < e->width) return fail("pitch");
    if (U32(p, 40) != 1 || U32(p, 44) != 0) return fail("buffer format/usage");
    if (e->n_inputs == 16) return 10;
    e->inputs[e->n_inputs] = PTR(p, 24);
    e->pitches[e->n_inputs] = pitch;
    e->n_inputs++;
    PTR(p, 32) = (void *)(uintptr_t)e->n_inputs; /* handle = index + 1 */
    return 0;
}
static int unreg(Enc *e, void *h) { uintptr_t i = (uintptr_t)h; return (i >= 1 && i <= (uintptr_t)e->n_inputs) ? 0 : 6; }
static int map(Enc *e, void *p) {
    if (U32(p, 0) != SV(4)) return 15;
    uintptr_t i = (uintptr_t)PTR(p, 16);
    if (i < 1 || i > (uintptr_t)e->n_inputs) return 24;
    if (e->mapped[i - 1]) return fail("mapped twice");
    e->mapped[i - 1] = 1;
    PTR(p, 24) = (void *)i; U32(p, 32) = 1;
    return 0;
}
static int unmap(Enc *e, void *h) {
    uintptr_t i = (uintptr_t)h;
    if (i < 1 || i > (uintptr_t)e->n_inputs || !e->mapped[i - 1]) return 25;
    e->mapped[i - 1] = 0; return 0;
}
static void put(Enc *e, const unsigned char *b, size_t n) {
    e->out = realloc(e->out, e->out_len + n); memcpy(e->out + e->out_len, b, n); e->out_len += n;
}
static int load_stream(Enc *e) {
#ifdef STREAM
    FILE *f = fopen(STREAM, "rb");
    if (!f) return fail("cannot open the stream file");
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    e->stream = malloc((size_t)n); e->stream_len = fread(e->stream, 1, (size_t)n, f); fclose(f);
    for (size_t i = 0; i + 5 <= e->stream_len && e->n_au < 4096; i++)
        if (!memcmp(e->stream + i, "\0\0\0\1\x09", 5)) e->au_start[e->n_au++] = i;
    if (!e->n_au) return fail("the stream file has no access unit delimiters");
#else
    (void)e;
#endif
    return 0;
}
static int encode(Enc *e, void *p) {
    if (U32(p, 0) != (SV(6) | (1u << 31))) return 15;
    if (U32(p, 16) & 0x8) { e->eos = 1; return 0; }
    if (e->eos) return 9;
    uintptr_t i = (uintptr_t)PTR(p, 40);
    if (i < 1 || i > (uintptr_t)e->n_inputs || !e->mapped[i - 1]) return fail("input is not a mapped resource");
    if (PTR(p, 48) != (void *)e) return fail("outputBitstream");
    if (U32(p, 4) != e->width || U32(p, 8) != e->height) return fail("input size");
    if (U32(p, 12) != e->pitches[i - 1]) return fail("input pitch differs from the registration");
    if (U32(p, 64) != 1 || U32(p, 68) != 1) return fail("bufferFmt/pictureStruct");
    if (e->locked) return fail("bitstream still locked");
    /* Read the frame as NVENC would: NV12 at the registered pointer. */
    const unsigned char *base = e->inputs[i - 1];
    uint32_t pitch = e->pitches[i - 1];
    double y = 0, u = 0, v = 0;
    for (uint32_t r = 0; r < e->height; r++)
        for (uint32_t c = 0; c < e->width; c++) y += base[(size_t)r * pitch + c];
    const unsigned char *uv = base + (size_t)pitch * e->height;
    for (uint32_t r = 0; r < e->height / 2; r++)
        for (uint32_t c = 0; c < e->width / 2; c++) {
            u += uv[(size_t)r * pitch + 2 * c];
            v += uv[(size_t)r * pitch + 2 * c + 1];
        }
    double n = (double)e->width * e->height, q = n / 4;
#ifdef LOG
    FILE *log = fopen(LOG, "a");
    if (log) { fprintf(log, "frame=%u y=%.3f u=%.3f v=%.3f\n", e->frame, y / n, u / q, v / q); fclose(log); }
#else
    (void)y; (void)u; (void)v; (void)q; (void)n;
#endif
    e->out_len = 0;
    int key = e->frame % e->idr == 0;
    if (e->n_au) {
        int k = (int)(e->frame % (uint32_t)e->n_au);
        size_t a = e->au_start[k], b = k + 1 < e->n_au ? e->au_start[k + 1] : e->stream_len;
        put(e, e->stream + a, b - a);
    } else if (!e->hevc) {
        static const unsigned char aud[] = {0,0,0,1,0x09,0x10}, sps[] = {0,0,0,1,0x67,0x64,0,0x1f,0xac},
            pps[] = {0,0,0,1,0x68,0xee,0x3c,0x80}, idr[] = {0,0,0,1,0x65,0x88,0x84,0x21},
            p_[] = {0,0,0,1,0x41,0x9a,0x02,0x11};
        put(e, aud, sizeof aud);
        if (key) { put(e, sps, sizeof sps); put(e, pps, sizeof pps); put(e, idr, sizeof idr); }
        else put(e, p_, sizeof p_);
    } else {
        static const unsigned char aud[] = {0,0,0,1,0x46,0x01,0x50}, vps[] = {0,0,0,1,0x40,0x01,0x0c},
            sps[] = {0,0,0,1,0x42,0x01,0x01}, pps[] = {0,0,0,1,0x44,0x01,0xc1},
            idr[] = {0,0,0,1,0x26,0x01,0xaf,0x11}, tr[] = {0,0,0,1,0x02,0x01,0xd0,0x22};
        put(e, aud, sizeof aud);
        if (key) { put(e, vps, sizeof vps); put(e, sps, sizeof sps); put(e, pps, sizeof pps); put(e, idr, sizeof idr); }
        else put(e, tr, sizeof tr);
    }
    e->frame++;
    return 0;
}
static int lock(Enc *e, void *p) {
    if (U32(p, 0) != (SV(1) | (1u << 31))) return 15;
    if (PTR(p, 8) != (void *)e) return fail("lock: outputBitstream");
    e->locked = 1;
    U32(p, 36) = (uint32_t)e->out_len;
    PTR(p, 56) = e->out;
    U32(p, 64) = ((e->frame - 1) % e->idr == 0) ? 3 : 0; /* IDR or P */
    return 0;
}
static int unlock(Enc *e, void *b) { if (b != e || !e->locked) return 9; e->locked = 0; return 0; }
static int destroy(Enc *e) {
    for (int i = 0; i < e->n_inputs; i++) if (e->mapped[i]) return fail("destroyed with a mapped input");
    free(e->out); free(e->stream); free(e); return 0;
}
static const char *last(Enc *e) { (void)e; return last_error; }

int NvEncodeAPICreateInstance(void *list) {
    if (U32(list, 0) != SV(2)) return 15;
    void **f = (void **)((char *)list + 8);
    f[1] = (void *)guid_count; f[4] = (void *)guids; f[11] = (void *)initialize;
    f[14] = (void *)create_bitstream; f[15] = (void *)destroy_bitstream; f[16] = (void *)encode;
    f[17] = (void *)lock; f[18] = (void *)unlock; f[25] = (void *)map; f[26] = (void *)unmap;
    f[27] = (void *)destroy; f[29] = (void *)open_ex; f[30] = (void *)reg; f[31] = (void *)unreg;
    f[37] = (void *)last; f[39] = (void *)preset_ex;
    return 0;
}
