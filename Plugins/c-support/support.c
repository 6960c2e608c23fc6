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

int32_t lathe_register_methods(const lathe_host *host, const lathe_registrar *registrar, const char *plugin,
                               const lathe_method *methods, size_t count) {
    if (registrar == NULL || registrar->register_method == NULL) return LATHE_INVALID_ARGUMENT;
    for (size_t i = 0; i < count; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) {
            char message[160];
            snprintf(message, sizeof message, "%s: registering %s/%s failed", plugin, plugin, methods[i].id ? methods[i].id : "?");
            lathe_log(host, 3, message);
            return status;
        }
    }
    return LATHE_OK;
}
