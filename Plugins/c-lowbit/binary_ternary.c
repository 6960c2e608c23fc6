/* lowbit: binary (BWN / XNOR-Net) and ternary (TWN) quantizers. */
#include "lowbit_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* binary (BWN / XNOR-Net weights)                                                             */

/** y = alpha * sign(x), sign(0) = +1 (also for -0). */
static void binary_run(const float *x, float *y, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? -alpha : alpha;
}

int32_t quantize_binary(lathe_call *call, const DLTensor *input, DLTensor *output, bool per_channel) {
    job j;
    int32_t status = prepare(call, input, output, per_channel, &j);
    if (status != LATHE_OK) return status;
    float one;
    float *scales = scale_array(call, j.channels, &one);
    if (!scales) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for per-channel scales");

    for (size_t c = 0; c < j.channels; c++) {
        scales[c] = 1.0f;
        if (j.inner == 0) continue;
        const float *x = j.x + c * j.inner;
        float *y = j.y + c * j.inner;
        double s = sum_abs(x, j.inner);
        if (!isfinite(s)) return lathe_fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);
        float alpha = (float)(s / (double)j.inner);
        if (!(alpha > 0.0f)) { /* an all-zero channel: alpha = 0 gives zeros; report scale 1 */
            memset(y, 0, j.inner * sizeof(float));
            continue;
        }
        binary_run(x, y, j.inner, alpha);
        scales[c] = alpha;
    }
    return report_scales(call, LATHE_QSCHEME_BINARY, 1, per_channel, j.channels, scales);
}

/* ------------------------------------------------------------------------------------------ */
/* ternary (TWN)                                                                               */

/**
 * The float boundary of the keep rule "n * v > t * s" (exact real comparison): the largest float
 * b >= 0 with n * b <= t * s, so that a float v is kept iff v > b. Starts from the rounded
 * quotient and walks a few ulps.
 */
static float ternary_boundary(double n, double t, double s) {
    double estimate = t * s / n;
    float b = estimate >= (double)FLT_MAX ? FLT_MAX : (float)estimate;
    if (!(b >= 0.0f)) b = 0.0f;
    while (b > 0.0f && compare_products((double)b, n, t, s) > 0) b = nextafterf(b, 0.0f);
    while (b < FLT_MAX) {
        float up = nextafterf(b, INFINITY);
        if (compare_products((double)up, n, t, s) > 0) break;
        b = up;
    }
    return b;
}

/** Number of |x| > b and the double sum of those |x|: branch-free over eight lanes (adding an
 *  exact 0 for the values not kept, so on +-alpha data every partial sum is still exact). */
static size_t ternary_kept(const float *x, size_t n, float b, double *sum) {
    enum { LANES = 8 };
    double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t cnt[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (size_t k = 0; k < LANES; k++) {
            float a = fabsf(x[i + k]);
            int keep = a > b;
            acc[k] += (double)(keep ? a : 0.0f);
            cnt[k] += (size_t)keep;
        }
    }
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        int keep = a > b;
        acc[0] += (double)(keep ? a : 0.0f);
        cnt[0] += (size_t)keep;
    }
    *sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    return ((cnt[0] + cnt[1]) + (cnt[2] + cnt[3])) + ((cnt[4] + cnt[5]) + (cnt[6] + cnt[7]));
}

/** Smallest |x| above b (the caller knows there is one). */
static float ternary_min_kept(const float *x, size_t n, float b) {
    float m = INFINITY;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > b && a < m) m = a;
    }
    return m;
}

static void ternary_run(const float *x, float *y, size_t n, float b, float alpha) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float q = v < 0.0f ? -alpha : alpha;
        y[i] = fabsf(v) > b ? q : 0.0f;
    }
}

/**
 * One channel of TWN: delta = t * mean|w| as the exact rule n * |w| > t * S, alpha = mean of the
 * kept |w| (in double, rounded once to float). Returns alpha (> 0), or 0 when nothing is kept
 * (output all zeros). Fails (returns -1) on non-finite input.
 *
 * The kept set satisfies t * k < n: every kept |w| exceeds t * S / n, so k * t * S / n < sum of
 * the kept |w| <= S. That holds exactly when S is the exact sum; the double sum S is rounded, so
 * in a pathological tie it could fail by an ulp — then the smallest kept magnitude is dropped
 * until it holds (t * k < n is checked exactly). It is what makes the rule keep every +-alpha of
 * q(x) on a second application.
 */
static float ternary_channel(const float *x, float *y, size_t n, float threshold) {
    double s = sum_abs(x, n);
    if (!isfinite(s)) return -1.0f;
    const double dn = (double)n, t = (double)threshold;
    float b = ternary_boundary(dn, t, s);
    double kept_sum;
    size_t k = ternary_kept(x, n, b, &kept_sum);
    while (k > 0 && compare_products(t, (double)k, 1.0, dn) >= 0) {
        b = ternary_min_kept(x, n, b);
        k = ternary_kept(x, n, b, &kept_sum);
    }
    if (k == 0) {
        memset(y, 0, n * sizeof(float));
        return 0.0f;
    }
    float alpha = (float)(kept_sum / (double)k); /* within [min kept, max kept]: > 0 and finite */
    ternary_run(x, y, n, b, alpha);
    return alpha;
}

int32_t quantize_ternary(lathe_call *call, const DLTensor *input, DLTensor *output, float threshold,
                                bool per_channel) {
    job j;
    int32_t status = prepare(call, input, output, per_channel, &j);
    if (status != LATHE_OK) return status;
    if (!(threshold >= 0.05f && threshold <= 1.5f)) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "threshold must be in 0.05..1.5, got %g", (double)threshold);
    }
    float one;
    float *scales = scale_array(call, j.channels, &one);
    if (!scales) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for per-channel scales");

    for (size_t c = 0; c < j.channels; c++) {
        scales[c] = 1.0f;
        if (j.inner == 0) continue;
        float alpha = ternary_channel(j.x + c * j.inner, j.y + c * j.inner, j.inner, threshold);
        if (alpha < 0.0f) return lathe_fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);
        if (alpha > 0.0f) scales[c] = alpha; /* nothing kept: zeros, scale reported as 1 */
    }
    return report_scales(call, LATHE_QSCHEME_TERNARY, 2, per_channel, j.channels, scales);
}

