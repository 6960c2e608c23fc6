/*
 * lathe_plugin_support.h — argument checks shared by Lathe's first-party C plugins. Private to
 * this repository (third-party plugins need only lathe_plugin.h); linked statically into each
 * plugin library with hidden visibility.
 */
#ifndef LATHE_PLUGIN_SUPPORT_H
#define LATHE_PLUGIN_SUPPORT_H

#include <lathe_plugin.h>

#define LATHE_SUPPORT_HIDDEN __attribute__((visibility("hidden")))

/** Reports `message` for this call (when the host table allows) and returns `status`. */
LATHE_SUPPORT_HIDDEN int32_t lathe_fail(lathe_call *call, int32_t status, const char *message);

/** Whether `t` is a float32 CPU tensor with one lane. */
LATHE_SUPPORT_HIDDEN int lathe_is_f32_cpu(const DLTensor *t);

/** Element count of a compact row-major tensor, or -1 if the shape is negative or the strides
 *  describe another layout (dimensions of size 1 may carry any stride). */
LATHE_SUPPORT_HIDDEN int64_t lathe_compact_count(const DLTensor *t);

#include <stdbool.h>
#include <stddef.h>

/** A quantizer call's resolved tensors. */
typedef struct lathe_quantizer_job {
    const float *x;
    float *y;
    size_t count;    /**< elements */
    size_t channels; /**< 1 per-tensor, shape[0] per-channel */
    size_t inner;    /**< elements per channel */
} lathe_quantizer_job;

/** Checks a quantizer's tensors (float32 CPU, same shape, compact, per-channel needs a
 *  dimension 0) and resolves the data pointers; reports and returns the failure status. */
LATHE_SUPPORT_HIDDEN int32_t lathe_prepare_quantizer(lathe_call *call, const DLTensor *input, DLTensor *output,
                                                     bool per_channel, lathe_quantizer_job *out);

#endif
