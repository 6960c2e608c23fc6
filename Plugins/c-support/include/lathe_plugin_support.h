/*
 * lathe_plugin_support.h — argument checks shared by Lathe's first-party C plugins. Private to
 * this repository (third-party plugins need only lathe_plugin.h); linked statically into each
 * plugin library with hidden visibility.
 */
#ifndef LATHE_PLUGIN_SUPPORT_H
#define LATHE_PLUGIN_SUPPORT_H

#include <lathe_plugin.h>

#include <stdbool.h>
#include <stddef.h>

/** Keeps a symbol shared between a plugin's own files out of its library's exports. */
#define LATHE_SUPPORT_HIDDEN __attribute__((visibility("hidden")))

/** Whether the host table has `field` within the size it declared, and the field is set. */
#define LATHE_HOST_HAS(host, field)                                                                  \
    ((host) != NULL && (size_t)(host)->head.size >= offsetof(lathe_host, field) + sizeof((host)->field) && \
     (host)->field != NULL)

/** Reports `message` for this call (when the host table allows) and returns `status`. */
LATHE_SUPPORT_HIDDEN int32_t lathe_fail(lathe_call *call, int32_t status, const char *message);

/** host->scratch(call, bytes) when the host table has it; NULL otherwise (as when memory is short). */
LATHE_SUPPORT_HIDDEN void *lathe_scratch(lathe_call *call, size_t bytes);

/** Reports a quantizer's parameters through host->report_qparams; a refusal, or a host table
 *  without report_qparams, fails the call (reported) with the status returned. */
LATHE_SUPPORT_HIDDEN int32_t lathe_report_qparams(lathe_call *call, const lathe_qparams *qparams);

/** Logs `message` through host->log at `level` when the host table has it. */
LATHE_SUPPORT_HIDDEN void lathe_log(const lathe_host *host, int32_t level, const char *message);

/** lathe_fail with a printf-style message (truncated to 511 bytes). */
LATHE_SUPPORT_HIDDEN int32_t lathe_failf(lathe_call *call, int32_t status, const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** Registers `count` methods with `registrar`, in order. A refused one is logged as "PLUGIN:
 *  registering PLUGIN/ID failed" and its status returned; LATHE_INVALID_ARGUMENT without a
 *  registrar. The body of a first-party plugin's init. */
LATHE_SUPPORT_HIDDEN int32_t lathe_register_methods(const lathe_host *host, const lathe_registrar *registrar, const char *plugin,
                                                    const lathe_method *methods, size_t count);

/** Whether `t` is a float32 CPU tensor with one lane. */
LATHE_SUPPORT_HIDDEN int lathe_is_f32_cpu(const DLTensor *t);

/** Element count of a compact row-major tensor, or -1 if the shape is negative or the strides
 *  describe another layout (dimensions of size 1 may carry any stride). */
LATHE_SUPPORT_HIDDEN int64_t lathe_compact_count(const DLTensor *t);

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

/* ------------------------------------------------------------------------------------------ */
/* [1.1] Call context, learnables and state (read only within the size the host declared)     */

/** call->role, or LATHE_ROLE_NONE when the call is 1.0-sized. */
LATHE_SUPPORT_HIDDEN int32_t lathe_call_role(const lathe_call *call);

/** call->axis, or -1 (per tensor) when the call is 1.0-sized. */
LATHE_SUPPORT_HIDDEN int32_t lathe_call_axis(const lathe_call *call);

/** call->epoch and call->total_epochs, or -1 and 0 (outside training) when the call lacks them. */
LATHE_SUPPORT_HIDDEN void lathe_call_epochs(const lathe_call *call, int32_t *epoch, int32_t *total_epochs);

/** call->sample_indices (NULL when absent) and call->dataset_size (0 when absent). */
LATHE_SUPPORT_HIDDEN const int64_t *lathe_call_samples(const lathe_call *call, int64_t *dataset_size);

/** Checks that the call carries the method's `count` learnables (the call is 1.1-sized, its
 *  learnable_count is `count`, and `learnables` (inputs) or `learnable_outputs` (outputs) is
 *  non-NULL); reports and returns LATHE_INVALID_ARGUMENT otherwise, naming `method`. */
LATHE_SUPPORT_HIDDEN int32_t lathe_require_learnables(lathe_call *call, const char *method, uint32_t count, bool inputs,
                                                      bool outputs);

/** Learnable `index` (named `name` in messages) as `count` float32 values: call->learnables[index]
 *  (read-only) into `*values`, or call->learnable_outputs[index] (to write) into `*outputs`; pass
 *  NULL for the one not wanted. The tensor must be float32, CPU, compact and hold exactly `count`
 *  elements; otherwise reports and returns the failure. Call lathe_require_learnables first. */
LATHE_SUPPORT_HIDDEN int32_t lathe_learnable_data(lathe_call *call, uint32_t index, const char *name, size_t count,
                                             const float **values, float **outputs);

/** host->state(call, bytes) when the host table has it; NULL otherwise (then fail the call with
 *  LATHE_NO_MEMORY, as the header says). */
LATHE_SUPPORT_HIDDEN void *lathe_state(lathe_call *call, size_t bytes);

#endif
