/*
 * context.c — the C support library's ABI 1.1 accessors (call context, learnables, state), kept
 * apart from support.c so that a plugin built against the 1.0 header links support.c alone.
 */
#include "lathe_plugin_support.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int32_t lathe_call_role(const lathe_call *call) {
    return LATHE_HAS_FIELD(call, lathe_call, role) ? call->role : LATHE_ROLE_NONE;
}

int32_t lathe_call_axis(const lathe_call *call) {
    return LATHE_HAS_FIELD(call, lathe_call, axis) ? call->axis : -1;
}

void lathe_call_epochs(const lathe_call *call, int32_t *epoch, int32_t *total_epochs) {
    *epoch = LATHE_HAS_FIELD(call, lathe_call, epoch) ? call->epoch : -1;
    *total_epochs = LATHE_HAS_FIELD(call, lathe_call, total_epochs) ? call->total_epochs : 0;
}

const int64_t *lathe_call_samples(const lathe_call *call, int64_t *dataset_size) {
    bool has = LATHE_HAS_FIELD(call, lathe_call, dataset_size) && call->sample_indices != NULL;
    *dataset_size = has ? call->dataset_size : 0;
    return has ? call->sample_indices : NULL;
}

int32_t lathe_require_learnables(lathe_call *call, const char *method, uint32_t count, bool inputs, bool outputs) {
    if (!LATHE_HAS_FIELD(call, lathe_call, learnable_outputs))
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s has learnable tensors: it needs a host of ABI 1.1 or later", method);
    if (call->learnable_count != count)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s declares %u learnable tensors, the call carries %u", method,
                           (unsigned)count, (unsigned)call->learnable_count);
    if (inputs && call->learnables == NULL)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: the call carries no learnable values (call->learnables is NULL)",
                           method);
    if (outputs && call->learnable_outputs == NULL)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                           "%s: the call carries no learnable outputs (call->learnable_outputs is NULL)", method);
    return LATHE_OK;
}

int32_t lathe_learnable_data(lathe_call *call, uint32_t index, const char *name, size_t count, const float **values,
                        float **outputs) {
    const DLTensor *t = values != NULL ? call->learnables[index] : call->learnable_outputs[index];
    const char *what = values != NULL ? "learnable" : "learnable output";
    if (t == NULL) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s '%s' is NULL", what, name);
    if (!lathe_is_f32_cpu(t)) return lathe_failf(call, LATHE_UNSUPPORTED, "%s '%s' must be a float32 CPU tensor", what, name);
    if (t->ndim < 0 || (t->ndim > 0 && t->shape == NULL))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s '%s' has an invalid shape", what, name);
    int64_t n = lathe_compact_count(t);
    if (n < 0) return lathe_failf(call, LATHE_UNSUPPORTED, "%s '%s' must be compact row-major", what, name);
    if ((uint64_t)n != (uint64_t)count)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s '%s' holds %lld values, expected %zu", what, name, (long long)n,
                           count);
    if (count > 0 && t->data == NULL) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s '%s' has no data", what, name);
    void *data = (char *)t->data + t->byte_offset;
    if (values != NULL) *values = (const float *)data;
    if (outputs != NULL) *outputs = (float *)data;
    return LATHE_OK;
}

void *lathe_state(lathe_call *call, size_t bytes) {
    return call != NULL && LATHE_HOST_HAS(call->host, state) ? call->host->state(call, bytes) : NULL;
}
