#include "lathe_plugin_support.h"

int32_t lathe_fail(lathe_call *call, int32_t status, const char *message) {
    if (call && call->host && call->host->report_error) call->host->report_error(call, message);
    return status;
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
