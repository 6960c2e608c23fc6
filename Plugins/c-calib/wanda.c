/* wanda.c — calib/wanda and the statistics check the calib methods share. */
#include "calib_internal.h"

const float *calib_statistics(lathe_call *call, const DLTensor *t, const char *which, int64_t out, int64_t features, bool gram,
                              int64_t *groups, int32_t *status) {
    if (t == NULL) {
        *status = lathe_failf(call, LATHE_UNSUPPORTED,
                              "the call carries no input %s statistics (a host of ABI 1.2 or later provides them to a "
                              "method that declares the flag, for a call about one layer's weight)", which);
        return NULL;
    }
    int32_t rank = gram ? 3 : 2;
    if (!lathe_is_f32_cpu(t) || t->ndim != rank || lathe_compact_count(t) < 0) {
        *status = lathe_failf(call, LATHE_UNSUPPORTED, "input %s statistics must be a compact float32 CPU tensor of rank %d", which, rank);
        return NULL;
    }
    int64_t g = t->shape[0];
    if (g <= 0 || out % g != 0 || t->shape[1] != features || (gram && t->shape[2] != features)) {
        *status = lathe_failf(call, LATHE_INVALID_ARGUMENT,
                              "input %s statistics of %lld groups × %lld features do not fit a weight of %lld rows of %lld",
                              which, (long long)g, (long long)t->shape[1], (long long)out, (long long)features);
        return NULL;
    }
    *groups = g;
    return (const float *)t->data;
}

int32_t calib_wanda(lathe_call *call, const DLTensor *weight, const DLTensor *gradient, const DLTensor *aux, DLTensor *scores,
                    float activation_power) {
    (void)gradient;
    (void)aux;
    if (!LATHE_HAS_FIELD(call, lathe_call, calibration_rows))
        return lathe_fail(call, LATHE_UNSUPPORTED, "calib/wanda needs a host of ABI 1.2 or later (calibration statistics)");
    if (!lathe_is_f32_cpu(weight) || !lathe_is_f32_cpu(scores) || weight->ndim < 1)
        return lathe_fail(call, LATHE_UNSUPPORTED, "calib/wanda scores a float32 CPU weight of rank >= 1");
    int64_t count = lathe_compact_count(weight);
    if (count < 0 || lathe_compact_count(scores) != count)
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "calib/wanda: the scores must be compact and shaped like the weight");
    int64_t out = weight->shape[0];
    if (out <= 0 || count == 0) return LATHE_OK;
    int64_t features = count / out, groups = 1;
    int32_t status = LATHE_OK;
    const float *ms = calib_statistics(call, call->input_mean_square, "mean-square", out, features, false, &groups, &status);
    if (ms == NULL) return status;
    const float *w = (const float *)weight->data;
    float *s = (float *)scores->data;
    int64_t rows_per_group = out / groups;
    for (int64_t o = 0; o < out; o++) {
        const float *m = ms + (o / rows_per_group) * features;
        for (int64_t j = 0; j < features; j++) {
            double rms = sqrt(fmax((double)m[j], 0.0));
            double norm = activation_power == 1.0f ? rms : pow(rms, (double)activation_power);
            s[o * features + j] = (float)(fabs((double)w[o * features + j]) * norm);
        }
    }
    return LATHE_OK;
}
