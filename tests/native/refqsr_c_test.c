/* The C API as a C program sees it (scripts/check-native-lib.sh builds it against the
 * NativeAOT librefqsr and runs it):
 *
 *   refqsr_c_test MODEL CLUSTBLOCK|- IN.rgb WIDTH HEIGHT OUT.rgb
 *
 * upscales the raw RGB file IN.rgb into OUT.rgb (packed rows) with padded strides on the way,
 * from two threads at once (their outputs must agree), and checks on the way that failures
 * are statuses with messages that write nothing: a missing model, a bad stride, a cancelling
 * progress callback, a freed model. Exit code 0 when all held. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refqsr.h"

static int failures = 0;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, " (last error: %s)\n", refqsr_last_error());                  \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

struct job {
    const refqsr_model *model;
    const uint8_t *input;
    int32_t width, height;
    size_t in_stride, out_stride;
    uint8_t *output;
    refqsr_status status;
};

static void *run(void *arg) {
    struct job *j = arg;
    refqsr_options o = {.struct_size = sizeof o};
    o.threads = 1;
    j->status = refqsr_upscale(j->model, j->input, j->width, j->height, j->in_stride, j->output, j->out_stride, &o, NULL);
    return NULL;
}

/* the whole file, or NULL; *size its length */
static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    *size = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static int stop_at_first(int32_t done, int32_t total, void *user) {
    (void)done;
    *(int32_t *)user = total;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODEL CLUSTBLOCK|- IN.rgb WIDTH HEIGHT OUT.rgb\n", argv[0]);
        return 2;
    }
    const char *clust = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
    int32_t w = atoi(argv[4]), h = atoi(argv[5]);
    CHECK(refqsr_abi_version() == REFQSR_ABI_VERSION, "abi %d", refqsr_abi_version());

    refqsr_model *model = (refqsr_model *)1;
    CHECK(refqsr_model_load("no/such/model.safetensors", NULL, &model) == REFQSR_BAD_MODEL, "missing model");
    CHECK(model == NULL, "a failed load sets the result to NULL");
    CHECK(strstr(refqsr_last_error(), "model.safetensors") != NULL, "the message names the file");
    CHECK(refqsr_model_load(argv[1], clust, &model) == REFQSR_OK, "load %s", argv[1]);
    if (model == NULL) return 1;
    int32_t s = refqsr_model_scale(model);
    printf("%s (x%d)\n", refqsr_model_describe(model), s);

    size_t n = (size_t)w * h * 3, in_stride = 3 * (size_t)w + 5, out_stride = 3 * (size_t)s * w + 7;
    uint8_t *raw = malloc(n), *in = malloc(in_stride * h);
    FILE *f = fopen(argv[3], "rb");
    CHECK(f != NULL && fread(raw, 1, n, f) == n, "read %s", argv[3]);
    if (f) fclose(f);
    for (int32_t y = 0; y < h; y++) memcpy(in + y * in_stride, raw + y * 3 * (size_t)w, 3 * (size_t)w);

    /* two threads on one model: the same bytes */
    size_t out_n = out_stride * s * h;
    struct job jobs[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (struct job){model, in, w, h, in_stride, out_stride, malloc(out_n), REFQSR_INTERNAL};
        memset(jobs[i].output, 0, out_n);
        pthread_create(&threads[i], NULL, run, &jobs[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    CHECK(jobs[0].status == REFQSR_OK && jobs[1].status == REFQSR_OK, "statuses %d %d", jobs[0].status, jobs[1].status);
    for (int32_t y = 0; y < s * h; y++)
        if (memcmp(jobs[0].output + y * out_stride, jobs[1].output + y * out_stride, 3 * (size_t)s * w) != 0) {
            CHECK(0, "row %d differs between the threads", y);
            break;
        }

    /* the same model from its bytes in memory: the same output */
    size_t model_size = 0, clust_size = 0;
    uint8_t *model_bytes = read_all(argv[1], &model_size), *clust_bytes = clust ? read_all(clust, &clust_size) : NULL;
    refqsr_model *from_memory = NULL;
    CHECK(refqsr_model_load_memory(model_bytes, model_size, clust_bytes, clust_size, &from_memory) == REFQSR_OK, "load from memory");
    free(model_bytes), free(clust_bytes);   /* the library keeps its own copy */
    struct job mem = {from_memory, in, w, h, in_stride, out_stride, malloc(out_n), REFQSR_INTERNAL};
    memset(mem.output, 0, out_n);   /* as the threads' outputs: the row padding compares too */
    run(&mem);
    CHECK(mem.status == REFQSR_OK && memcmp(mem.output, jobs[0].output, out_n) == 0, "loaded from memory: the same bytes");
    refqsr_model_free(from_memory);
    free(mem.output);

    /* stats, with the options' defaults */
    refqsr_stats stats = {.struct_size = sizeof stats};
    uint8_t *again = malloc(out_n);
    CHECK(refqsr_upscale(model, in, w, h, in_stride, again, out_stride, NULL, &stats) == REFQSR_OK, "default options");
    CHECK(stats.patches >= 1 && stats.giga_bitops > 0 && stats.fqr > 0, "stats %d %f %f", stats.patches, stats.giga_bitops, stats.fqr);
    printf("%d patch(es), %.3f G BitOPs, FQR %.2f, reference ratio %.2f, %.2f s\n", stats.patches, stats.giga_bitops, stats.fqr,
           stats.reference_ratio, stats.seconds);

    /* failures write nothing */
    uint8_t *untouched = malloc(out_n);
    memset(untouched, 0xAB, out_n);
    CHECK(refqsr_upscale(model, in, w, h, 3 * (size_t)w - 1, untouched, out_stride, NULL, NULL) == REFQSR_INVALID_ARGUMENT, "short input stride");
    CHECK(strstr(refqsr_last_error(), "input_stride") != NULL, "the message names the stride");
    int32_t total = 0;
    refqsr_options cancel = {.struct_size = sizeof cancel};
    cancel.patch_size = 12;
    cancel.threads = 1;
    cancel.progress = stop_at_first;
    cancel.progress_user = &total;
    CHECK(refqsr_upscale(model, in, w, h, in_stride, untouched, out_stride, &cancel, NULL) == REFQSR_CANCELLED, "cancel");
    CHECK(total > 1, "the callback saw %d patches", total);
    for (size_t i = 0; i < out_n; i++)
        if (untouched[i] != 0xAB) {
            CHECK(0, "a failed call wrote byte %zu", i);
            break;
        }

    /* the output, packed */
    f = fopen(argv[6], "wb");
    for (int32_t y = 0; y < s * h && f; y++) fwrite(jobs[0].output + y * out_stride, 1, 3 * (size_t)s * w, f);
    if (f) fclose(f);

    refqsr_model_free(model);
    CHECK(refqsr_upscale(model, in, w, h, in_stride, untouched, out_stride, NULL, NULL) == REFQSR_INVALID_ARGUMENT, "freed model");
    refqsr_model_free(model);
    refqsr_model_free(NULL);
    free(raw), free(in), free(again), free(untouched), free(jobs[0].output), free(jobs[1].output);
    if (failures)
        printf("%d check(s) failed\n", failures);
    else
        printf("all checks passed\n");
    return failures ? 1 : 0;
}
