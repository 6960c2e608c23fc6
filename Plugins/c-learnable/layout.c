/* learnable: argument checks and the channel layout shared by the quantizers (see learnable.c). */
#include "learnable_internal.h"

#include <string.h>

int32_t prepare_layout(lathe_call *call, const DLTensor *input, DLTensor *output, const DLTensor *grad_output,
                       bool per_channel, layout *out) {
    memset(out, 0, sizeof *out);
    lathe_quantizer_job job;
    /* Without an output (initialisers) the input is checked against itself. */
    DLTensor *target = output != NULL ? output : (DLTensor *)(uintptr_t)input;
    int32_t status = lathe_prepare_quantizer(call, input, target, false, &job);
    if (status != LATHE_OK) return status;
    if (grad_output != NULL) {
        lathe_quantizer_job g;
        if ((status = lathe_prepare_quantizer(call, grad_output, target, false, &g)) != LATHE_OK) return status;
        out->dy = g.x;
    }
    out->x = job.x;
    out->y = output != NULL ? job.y : NULL;
    out->count = job.count;
    out->batch = input->ndim > 0 ? (size_t)input->shape[0] : 1;
    out->outer = 1;
    out->channels = 1;
    out->inner = job.count;
    out->axis = -1;
    int32_t axis = per_channel ? lathe_call_axis(call) : -1;
    if (axis < -1 || (axis >= 0 && axis >= input->ndim))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "the call's axis %d is not a dimension of the %d-d input", (int)axis,
                           (int)input->ndim);
    if (axis >= 0) {
        size_t outer = 1, inner = 1;
        for (int32_t d = 0; d < axis; d++) outer *= (size_t)input->shape[d];
        for (int32_t d = axis + 1; d < input->ndim; d++) inner *= (size_t)input->shape[d];
        size_t channels = (size_t)input->shape[axis];
        if (channels == 0 || channels > UINT32_MAX)
            return lathe_failf(call, LATHE_UNSUPPORTED, "per-channel steps need 1..2^32-1 channels on axis %d, got %zu",
                               (int)axis, channels);
        out->outer = outer;
        out->channels = channels;
        out->inner = inner;
        out->axis = axis;
    }
    return LATHE_OK;
}

bool resolve_unsigned(const lathe_call *call, int32_t sign) {
    if (sign == SIGN_AUTO) return lathe_call_role(call) == LATHE_ROLE_ACTIVATION;
    return sign == SIGN_UNSIGNED;
}

int32_t check_bits_sign(lathe_call *call, int32_t bits, int32_t sign) {
    if (bits < BITS_MIN || bits > BITS_MAX)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "bits must be in %d..%d, got %d", BITS_MIN, BITS_MAX, (int)bits);
    if (sign < 0 || sign >= SIGN_COUNT)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "sign must be 0 (auto), 1 (signed) or 2 (unsigned), got %d", (int)sign);
    return LATHE_OK;
}

float *scratch_floats(lathe_call *call, size_t count, int32_t *status) {
    if (count == 0) count = 1;
    if (count > SIZE_MAX / sizeof(float)) {
        *status = lathe_failf(call, LATHE_NO_MEMORY, "scratch request of %zu floats overflows", count);
        return NULL;
    }
    float *memory = lathe_scratch(call, count * sizeof(float));
    if (memory == NULL)
        *status = lathe_failf(call, LATHE_NO_MEMORY, "cannot get %zu bytes of scratch memory from the host", count * sizeof(float));
    return memory;
}
