/* scale.c — calib/smoothquant and calib/awq: channel scalers (ABI 1.3), one positive scale per
 * input channel of a layer, which the host multiplies into the weight's columns and divides out
 * of the layer's input (folded into the op before where the graph allows). */
#include "calib_internal.h"

#if LATHE_ABI_MINOR >= 3

/* Scales are kept within [CALIB_SCALE_MIN, CALIB_SCALE_MAX], so that W·s and x/s stay finite for
 * any float32 weight and activation statistics. */
#define CALIB_SCALE_MIN 1e-5
#define CALIB_SCALE_MAX 1e5

static double calib_clamp_scale(double s) {
    if (!(s >= CALIB_SCALE_MIN)) return CALIB_SCALE_MIN; /* also NaN */
    return s > CALIB_SCALE_MAX ? CALIB_SCALE_MAX : s;
}

/** The shared checks: weight [out, C, ...] float32, scales [G, C], statistics [G, C·K].
 *  Fills out, channels C, positions K (features per channel) and groups G. */
static int32_t calib_scaler_shapes(lathe_call *call, const char *method, const DLTensor *weight, const DLTensor *scales,
                                   const DLTensor *stats, const char *which, const float **data, int64_t *out, int64_t *channels,
                                   int64_t *positions, int64_t *groups) {
    if (!LATHE_HAS_FIELD(call, lathe_call, input_abs_mean))
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s needs a host of ABI 1.3 or later (channel scalers)", method);
    if (!lathe_is_f32_cpu(weight) || !lathe_is_f32_cpu(scales) || weight->ndim < 1 || scales->ndim != 2)
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s: a float32 CPU weight of rank >= 1 and scales [G, C]", method);
    int64_t count = lathe_compact_count(weight);
    *out = weight->shape[0];
    if (count < 0 || *out <= 0 || lathe_compact_count(scales) < 0)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: the weight and scales must be compact, with at least one row", method);
    int64_t features = count / *out;
    int32_t status = LATHE_OK;
    *data = calib_statistics(call, stats, which, *out, features, false, groups, &status);
    if (*data == NULL) return status;
    *channels = scales->shape[1];
    if (scales->shape[0] != *groups || *channels <= 0 || features % *channels != 0)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: scales [%lld, %lld] do not fit %lld groups of %lld features", method,
                           (long long)scales->shape[0], (long long)scales->shape[1], (long long)*groups, (long long)features);
    *positions = features / *channels;
    return LATHE_OK;
}

int32_t calib_smoothquant(lathe_call *call, const DLTensor *weight, DLTensor *scales, float alpha) {
    const float *xmax = NULL;
    int64_t out = 0, channels = 0, positions = 0, groups = 0;
    int32_t status = calib_scaler_shapes(call, "calib/smoothquant", weight, scales, call->input_abs_max, "abs-max", &xmax, &out,
                                         &channels, &positions, &groups);
    if (status != LATHE_OK) return status;
    const float *w = (const float *)weight->data;
    float *s = (float *)scales->data;
    int64_t features = channels * positions, rows = out / groups;
    for (int64_t g = 0; g < groups; g++) {
        for (int64_t c = 0; c < channels; c++) {
            double x = 0, m = 0;
            for (int64_t k = 0; k < positions; k++) {
                int64_t j = c * positions + k;
                x = fmax(x, fabs((double)xmax[g * features + j]));
                for (int64_t o = g * rows; o < (g + 1) * rows; o++) m = fmax(m, fabs((double)w[o * features + j]));
            }
            /* SmoothQuant's s_j = max|X_j|^α / max|W_j|^(1−α), both maxima floored at 1e-5 as in its code,
             * except for a channel that was zero on every calibration input (a dead ReLU channel): it
             * has nothing to migrate and keeps s = 1. With the floor it would get s ≈ 1e-5^α/…, and the
             * 1/s folded into the layer before would multiply that channel's (negative, pre-ReLU)
             * outputs by 100-1000×, which then sets the per-tensor range wherever that output is
             * quantized (W8A8 quantizes every conv and linear output, as int8 engines do): on the
             * convnet W8A8 fell to chance that way. */
            double value = x == 0 ? 1.0 : pow(fmax(x, 1e-5), (double)alpha) / pow(fmax(m, 1e-5), 1.0 - (double)alpha);
            s[g * channels + c] = (float)calib_clamp_scale(value);
        }
    }
    return LATHE_OK;
}

int32_t calib_awq(lathe_call *call, const DLTensor *weight, DLTensor *scales, float alpha) {
    const float *xmean = NULL;
    int64_t out = 0, channels = 0, positions = 0, groups = 0;
    int32_t status = calib_scaler_shapes(call, "calib/awq", weight, scales, call->input_abs_mean, "abs-mean", &xmean, &out,
                                         &channels, &positions, &groups);
    if (status != LATHE_OK) return status;
    float *s = (float *)scales->data;
    int64_t n = groups * channels, features = channels * positions;
    double *raw = (size_t)n > SIZE_MAX / sizeof(double) ? NULL : lathe_scratch(call, (size_t)n * sizeof(double));
    if (raw == NULL) return lathe_fail(call, LATHE_NO_MEMORY, "calib/awq: no scratch memory");
    double lo = INFINITY, hi = 0;
    for (int64_t g = 0; g < groups; g++) {
        for (int64_t c = 0; c < channels; c++) {
            double x = 0;
            for (int64_t k = 0; k < positions; k++) x += fabs((double)xmean[g * features + c * positions + k]);
            /* AWQ: s = mean|x|^α, the mean floored at 1e-4 as in its code; a channel's K unfolded
             * positions (a conv's kernel window) are averaged. */
            double value = pow(fmax(x / (double)positions, 1e-4), (double)alpha);
            raw[g * channels + c] = value;
            lo = fmin(lo, value);
            hi = fmax(hi, value);
        }
    }
    /* ... normalised by √(max · min), so that the scales centre on 1. */
    double norm = sqrt(hi * lo);
    if (!(norm > 0) || !isfinite(norm)) norm = 1;
    for (int64_t i = 0; i < n; i++) s[i] = (float)calib_clamp_scale(raw[i] / norm);
    return LATHE_OK;
}

#endif
