/* clip.c — calib/awq-clip: a weight quantizer (affine, per output row) whose clipping range is
 * searched per row for the smallest input-weighted rounding error, with the weights the layer's
 * input mean squares (ABI 1.3: a quantizer may read its layer's input statistics). */
#include "calib_internal.h"

#include <string.h>

#if LATHE_ABI_MINOR >= 3

/* The affine grid of the range [r·lo, r·hi] (widened to hold 0), as calib_grid_of. */
static calib_grid clipped_grid(double lo, double hi, double r, int32_t bits) {
    calib_grid g;
    double a = fmin(r * lo, 0), b = fmax(r * hi, 0);
    g.qmin = 0;
    g.qmax = (1 << bits) - 1;
    g.scale = (float)((b - a) / g.qmax);
    if (!(g.scale > 0) || !isfinite(g.scale)) {
        g.scale = 1;
        g.zero = 0;
        return g;
    }
    g.zero = (int32_t)fmin(fmax(nearbyint(-a / (double)g.scale), 0), g.qmax);
    return g;
}

int32_t calib_awq_clip(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t grid, float max_shrink) {
    if (!lathe_is_f32_cpu(input) || !lathe_is_f32_cpu(output) || input->ndim < 1)
        return lathe_fail(call, LATHE_UNSUPPORTED, "calib/awq-clip quantizes a float32 CPU weight of rank >= 1");
    int64_t count = lathe_compact_count(input);
    if (count < 0 || lathe_compact_count(output) != count)
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "calib/awq-clip: input and output must be compact and of one shape");
    int64_t out = input->shape[0];
    if (out <= 0 || count == 0) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "calib/awq-clip: the weight has no elements");
    int64_t features = count / out, groups = 1;
    int32_t status = LATHE_OK;
    const float *ms = calib_statistics(call, call->input_mean_square, "mean-square", out, features, false, &groups, &status);
    if (ms == NULL) return status;
    const float *w = (const float *)input->data;
    float *q = (float *)output->data;
    float *scales = lathe_scratch(call, (size_t)out * sizeof(float));
    int32_t *zeros = lathe_scratch(call, (size_t)out * sizeof(int32_t));
    if (scales == NULL || zeros == NULL) return lathe_fail(call, LATHE_NO_MEMORY, "calib/awq-clip: no scratch memory");
    int64_t rows_per_group = out / groups;
    for (int64_t o = 0; o < out; o++) {
        const float *row = w + o * features, *weight = ms + (o / rows_per_group) * features;
        double lo = 0, hi = 0;
        for (int64_t j = 0; j < features; j++) {
            lo = fmin(lo, row[j]);
            hi = fmax(hi, row[j]);
        }
        /* AWQ's clipping search: ratios 1, 1 − s/n, …, 1 − s (n = grid, s = max_shrink); the error of
         * each is Σ_j E[x_j²]·(w_j − q(w_j))², the diagonal part of ‖(W − Q(W))X‖²/n. Ties keep the wider range. */
        calib_grid best = clipped_grid(lo, hi, 1, bits);
        double best_error = INFINITY;
        for (int32_t i = 0; i <= grid; i++) {
            double r = 1.0 - (double)max_shrink * i / grid;
            calib_grid g = clipped_grid(lo, hi, r, bits);
            double error = 0;
            for (int64_t j = 0; j < features; j++) {
                double d = (double)row[j] - calib_round_to(g, row[j]);
                error += fmax((double)weight[j], 0) * d * d;
            }
            if (error < best_error) {
                best_error = error;
                best = g;
            }
        }
        for (int64_t j = 0; j < features; j++) q[o * features + j] = (float)calib_round_to(best, row[j]);
        scales[o] = best.scale;
        zeros[o] = best.zero;
    }
    lathe_qparams qp = {LATHE_HEAD(lathe_qparams)};
    qp.scheme = LATHE_QSCHEME_AFFINE;
    qp.bits = bits;
    qp.axis = 0;
    qp.qmin = 0;
    qp.qmax = (1 << bits) - 1;
    qp.count = (uint32_t)out;
    qp.scales = scales;
    qp.zero_points = zeros;
    qp.element_format = LATHE_ELEMENT_INT;
    qp.scale_format = LATHE_SCALE_FP32;
    return lathe_report_qparams(call, &qp);
}

#endif
