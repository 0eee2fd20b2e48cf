/* refqsr.h: the RefQsr.Engine as a C library (librefqsr, a NativeAOT build of
 * src/RefQsr.Native; docs/c-api.md). x4 super-resolution of 8-bit RGB images with the
 * shipped SRResNet and RefQSR models, on the CPU, with the same output bytes as the
 * `refqsr` command.
 *
 * Errors: every function that can fail returns a refqsr_status; REFQSR_OK is 0. The message
 * of the last failure on the calling thread is refqsr_last_error(). Nothing is written to an
 * output on failure. No call ends the process or throws into the caller.
 *
 * Threads: a loaded model serves concurrent refqsr_upscale calls from many threads, each
 * giving the bytes it gives alone. Free a model only when no call is using it. */
#ifndef REFQSR_H
#define REFQSR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What refqsr_abi_version() returns for this header; a library with another value has
 * another ABI. */
#define REFQSR_ABI_VERSION 1

typedef enum refqsr_status {
    REFQSR_OK = 0,
    REFQSR_INVALID_ARGUMENT = 1, /* a null pointer, a size or stride that does not fit, a bad option */
    REFQSR_BAD_MODEL = 2,        /* a model file missing, unreadable, corrupt or of the wrong kind */
    REFQSR_MODEL_ARITHMETIC = 3, /* the model's float arithmetic failed on this image (NaN output, ...) */
    REFQSR_OUT_OF_MEMORY = 4,
    REFQSR_CANCELLED = 5,        /* the progress callback asked to stop */
    REFQSR_INTERNAL = 6          /* a defect in the library: please report it with the message */
} refqsr_status;

typedef struct refqsr_model refqsr_model;

/* Called after each finished patch with the patches done and the total, from the worker
 * thread that finished it (several threads: reports can arrive out of order, keep the
 * largest). Return nonzero to cancel the run: refqsr_upscale then returns REFQSR_CANCELLED. */
typedef int (*refqsr_progress_fn)(int32_t patches_done, int32_t patches_total, void *user);

/* Zeroed but for struct_size it means the defaults: refqsr_options o = {.struct_size = sizeof o}; */
typedef struct refqsr_options {
    uint32_t struct_size;        /* sizeof(refqsr_options): later versions add fields at the end */
    int32_t patch_size;          /* LR patch size in pixels, 12..4096; 0: 96 */
    int32_t full_image;          /* nonzero: the whole image as one patch (patch_size ignored) */
    int32_t threads;             /* worker threads, 1..256; 0: one per processor. The output does not depend on it */
    int32_t set_tau;             /* RefQSR models, nonzero: tau replaces the model's own cosine threshold */
    double tau;                  /* the pairing's cosine threshold in -1..1 (a lower one pairs more patches) */
    refqsr_progress_fn progress; /* may be NULL */
    void *progress_user;         /* passed to progress */
} refqsr_options;

typedef struct refqsr_stats {
    uint32_t struct_size;        /* sizeof(refqsr_stats), set by the caller */
    int32_t patches;
    double giga_bitops;          /* SPEC section 7, the whole schedule */
    double fqr;
    double reference_ratio;      /* RefQSR models: references / patches; NaN for the others */
    double seconds;
} refqsr_stats;

/* REFQSR_ABI_VERSION of the library. */
int32_t refqsr_abi_version(void);

/* Loads an SRResNet or RefQSR model file (.safetensors, docs/weights-format.md). A RefQSR
 * model also needs its ClustBlock file (clustblock_path, e.g. weights/clustblock-8bit.safetensors);
 * pass NULL for the other models. On success *model is the new model; free it with
 * refqsr_model_free. */
refqsr_status refqsr_model_load(const char *model_path, const char *clustblock_path, refqsr_model **model);

/* refqsr_model_load from the files' bytes in memory (an app that embeds its models). The
 * bytes are copied: the buffers may be freed on return. clustblock_data is NULL for models
 * other than RefQSR. */
refqsr_status refqsr_model_load_memory(const void *model_data, size_t model_size, const void *clustblock_data,
                                       size_t clustblock_size, refqsr_model **model);

/* Frees a model from refqsr_model_load or refqsr_model_load_memory; NULL is ignored. */
void refqsr_model_free(refqsr_model *model);

/* The model's scale factor (4 for the shipped models), or 0 for a NULL model. */
int32_t refqsr_model_scale(const refqsr_model *model);

/* A one-line description, e.g. "SRResNet x4, 16 blocks, 64 ch, DDTB w8a8", valid until the
 * model is freed; NULL for a NULL model. */
const char *refqsr_model_describe(const refqsr_model *model);

/* Super-resolves width x height interleaved 8-bit RGB pixels, rows input_stride bytes apart
 * (at least 3 * width), into (scale * width) x (scale * height) RGB pixels, rows output_stride
 * bytes apart (at least 3 * scale * width). options and stats may be NULL (defaults; no
 * figures). The output is written only on success. */
refqsr_status refqsr_upscale(const refqsr_model *model, const uint8_t *input, int32_t width, int32_t height,
                             size_t input_stride, uint8_t *output, size_t output_stride,
                             const refqsr_options *options, refqsr_stats *stats);

/* The message of the calling thread's last failure (UTF-8), or "" if it had none. Valid until
 * the thread's next failure. */
const char *refqsr_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
