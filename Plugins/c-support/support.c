#include "lathe_plugin_support.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int32_t lathe_fail(lathe_call *call, int32_t status, const char *message) {
    if (call != NULL && LATHE_HOST_HAS(call->host, report_error)) call->host->report_error(call, message);
    return status;
}

int32_t lathe_failf(lathe_call *call, int32_t status, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return lathe_fail(call, status, message);
}

void *lathe_scratch(lathe_call *call, size_t bytes) {
    return call != NULL && LATHE_HOST_HAS(call->host, scratch) ? call->host->scratch(call, bytes) : NULL;
}

int32_t lathe_report_qparams(lathe_call *call, const lathe_qparams *qparams) {
    if (call == NULL || !LATHE_HOST_HAS(call->host, report_qparams))
        return lathe_fail(call, LATHE_UNSUPPORTED, "the host table has no report_qparams");
    int32_t status = call->host->report_qparams(call, qparams);
    if (status != LATHE_OK) return lathe_fail(call, status, "the host refused the quantization parameters");
    return LATHE_OK;
}

void lathe_log(const lathe_host *host, int32_t level, const char *message) {
    if (LATHE_HOST_HAS(host, log)) host->log(host, level, message);
}

int lathe_is_f32_cpu(const DLTensor *t) {
    return t->device.device_type == kDLCPU && t->dtype.code == kDLFloat && t->dtype.bits == 32 && t->dtype.lanes == 1;
}

int64_t lathe_compact_count(const DLTensor *t) {
    int64_t count = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t extent = t->shape[d];
        if (extent < 0) return -1;
        if (t->strides && extent > 1 && t->strides[d] != count) return -1;
        if (extent != 0 && count > INT64_MAX / extent) return -1;
        count *= extent;
    }
    return count;
}

int32_t lathe_prepare_quantizer(lathe_call *call, const DLTensor *input, DLTensor *output, bool per_channel,
                                lathe_quantizer_job *out) {
    memset(out, 0, sizeof *out);
    if (!call || !call->host) return LATHE_INVALID_ARGUMENT;
    if (!input || !output) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "input and output must be non-NULL");
    if (!lathe_is_f32_cpu(input)) return lathe_fail(call, LATHE_UNSUPPORTED, "input must be a float32 CPU tensor");
    if (!lathe_is_f32_cpu(output)) return lathe_fail(call, LATHE_UNSUPPORTED, "output must be a float32 CPU tensor");
    if (input->ndim < 0 || (input->ndim > 0 && !input->shape))
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "input has an invalid shape");
    if (per_channel && input->ndim == 0)
        return lathe_fail(call, LATHE_INVALID_ARGUMENT,
                    "per_channel needs a tensor with a dimension 0 (channels); got a scalar");
    if (output->ndim != input->ndim || (output->ndim > 0 && !output->shape))
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "output must have the input's shape");
    for (int d = 0; d < input->ndim; d++) {
        if (output->shape[d] != input->shape[d])
            return lathe_fail(call, LATHE_INVALID_ARGUMENT, "output must have the input's shape");
    }
    int64_t count = lathe_compact_count(input);
    if (count < 0 || lathe_compact_count(output) != count)
        return lathe_fail(call, LATHE_UNSUPPORTED, "tensors must be compact row-major");
    if ((uint64_t)count > SIZE_MAX / (2 * sizeof(float))) return lathe_fail(call, LATHE_UNSUPPORTED, "tensor too large");
    size_t channels = per_channel ? (size_t)input->shape[0] : 1;
    if (per_channel && (channels == 0 || channels > UINT32_MAX))
        return lathe_fail(call, LATHE_UNSUPPORTED, "per_channel needs 1..2^32-1 channels");
    if (count > 0 && (!input->data || !output->data))
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "tensor data must be non-NULL");
    if (count > 0) {
        out->x = (const float *)(const void *)((const char *)input->data + input->byte_offset);
        out->y = (float *)(void *)((char *)output->data + output->byte_offset);
    }
    out->count = (size_t)count;
    out->channels = channels;
    out->inner = (size_t)count / channels;
    return LATHE_OK;
}

/* [1.1] ------------------------------------------------------------------------------------ */

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
