/*
 * uniform.c — the `uniform` plugin: uniform affine and symmetric fake-quantizers.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.0) only. Built by SwiftPM as libLatheUniform.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libuniform.so Plugins/c-uniform/uniform.c Plugins/c-support/support.c -lm
 *
 * Methods
 *   uniform/affine     asymmetric (affine) quantizer — Jacob et al., CVPR 2018; Krishnamoorthi 2018
 *   uniform/symmetric  symmetric signed quantizer, restricted range, zero point 0
 *
 * Both take (bits: i32 = 8, per_channel: bool = false, range: enum {minmax, percentile, mse} = 0,
 * percentile: f32 = 99.99), are deterministic and thread-safe (no global state is written), and
 * report their quantization parameters once per call.
 *
 * Idempotence. All three estimators are exactly idempotent, q(q(x)) == q(x) bit for bit:
 *   - The quantizer is monotone and maps 0 to 0, so the extremes of q(x) (with 0) are the
 *     quantized extremes of x; a second application derives its grid from those.
 *   - A naive implementation still fails in two ways: recomputing the scale from the rounded end
 *     points fl(code * scale) can land one ulp away (then every output moves by about an ulp),
 *     and when both ends of the range sit on half codes they both round inwards (a tie, e.g.
 *     [-2.5, 0.5] at 2 bits), so the output spans one code fewer and re-derives a grid a whole
 *     code narrower. So the formula's scale is nudged by the fewest ulps (and, at ties, the zero
 *     point by one) that make the grid reproduce itself from its own end points and be reached
 *     by the data's extremes and the clip ends; see "Settling the parameters" below.
 *   - mse: on q(x) the unclipped candidate (alpha = 1) has zero error and wins.
 *   - percentile: the clip ends are data values (nearest-rank order statistics, no
 *     interpolation), so the same ranks of q(x) hold exactly the grid's end points.
 * Values already on the grid re-quantize to themselves since |code| <= 65535 and x * (1/scale)
 * is within a few ulps of the code.
 */
#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
/* The idempotence argument needs the exact same rounding in the kernel and in the parameter
 * search: no fused multiply-adds. (GCC does not contract in ISO C mode.) */
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------------------------------------ */
/* Estimators and limits                                                                       */

enum { RANGE_MINMAX = 0, RANGE_PERCENTILE = 1, RANGE_MSE = 2, RANGE_COUNT = 3 };

enum { BITS_MIN = 2, BITS_MAX = 16 };

/** Steps of the MSE estimator's clip-ratio grid: alpha = 0.01, 0.02, ..., 1.00. */
enum { MSE_STEPS = 100 };

/* ------------------------------------------------------------------------------------------ */
/* The grid and the fake-quantization kernel                                                   */

/**
 * A quantization grid: outputs are code * scale for integer codes in [lo, hi]. For the affine
 * scheme the code is relative to the zero point (q - zp), so lo = -zp and hi = qmax - zp; this
 * equals the documented (clamp(round(x/scale) + zp, 0, qmax) - zp) * scale exactly, because the
 * clamp bounds are integers and rounding is monotone.
 */
typedef struct grid {
    float scale;    /**< step, > 0 and a normal float */
    float inv;      /**< 1 / scale, multiplied instead of dividing */
    float lo, hi;   /**< code range (integers, exactly representable) */
    int32_t zp;     /**< zero point (affine), 0 for symmetric */
} grid;

/** 1.5 * 2^23: adding and subtracting it rounds |t| <= 2^22 to an integer, ties to even, in the
 *  default rounding mode — the same result as nearbyintf, but it vectorizes on plain SSE2. */
#define ROUND_MAGIC 12582912.0f

/** Fake-quantizes one value onto `g`. Clamps before rounding (same result, and keeps |t| small
 *  enough for the magic-number rounding). Never returns -0. */
static inline float fake_quantize(float x, float scale, float inv, float lo, float hi) {
    float t = x * inv;
    t = t < lo ? lo : t;
    t = t > hi ? hi : t;
    float r = t + ROUND_MAGIC;
    r = r - ROUND_MAGIC;
    return r * scale;
}

/** Fake-quantizes `n` values into a separate buffer. The hot loop: one read, one write per
 *  element, vectorized. */
static void quantize_run(const float *restrict x, float *restrict y, size_t n, const grid *g) {
    const float scale = g->scale, inv = g->inv, lo = g->lo, hi = g->hi;
    for (size_t i = 0; i < n; i++) y[i] = fake_quantize(x[i], scale, inv, lo, hi);
}

/** In-place variant for when input and output are the same buffer (restrict would be a lie). */
static void quantize_inplace(float *x, size_t n, const grid *g) {
    const float scale = g->scale, inv = g->inv, lo = g->lo, hi = g->hi;
    for (size_t i = 0; i < n; i++) x[i] = fake_quantize(x[i], scale, inv, lo, hi);
}

/** Sum of squared errors of quantizing `n` values onto `g`, in double (4 accumulators). */
static double quantize_sse(const float *x, size_t n, const grid *g) {
    const float scale = g->scale, inv = g->inv, lo = g->lo, hi = g->hi;
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (size_t k = 0; k < 4; k++) {
            double d = (double)fake_quantize(x[i + k], scale, inv, lo, hi) - (double)x[i + k];
            acc[k] += d * d;
        }
    }
    for (; i < n; i++) {
        double d = (double)fake_quantize(x[i], scale, inv, lo, hi) - (double)x[i];
        acc[0] += d * d;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* ------------------------------------------------------------------------------------------ */
/* Parameters from a clip range                                                                */

/** Builds an affine grid from a scale and zero point. */
static grid make_affine(float scale, int32_t zp, int32_t qmax) {
    grid g;
    g.scale = scale;
    g.inv = 1.0f / scale;
    g.zp = zp;
    g.lo = (float)-zp;
    g.hi = (float)(qmax - zp);
    return g;
}

/** Whether a scale is usable: a positive normal float (so 1/scale is finite). */
static int scale_ok(float scale) { return scale >= FLT_MIN && scale <= FLT_MAX; }

/** Zero point for the clip minimum lo <= 0: clamp(round(-lo / scale), 0, qmax). */
static int32_t affine_zero_point(float lo, float scale, int32_t qmax) {
    double z = nearbyint(-(double)lo / (double)scale);
    if (z < 0) z = 0;
    if (z > qmax) z = qmax;
    return (int32_t)z;
}

/** The documented affine parameters for the clip range [lo, hi] widened to contain 0:
 *  scale = (hi - lo) / qmax, zp = clamp(round(-lo / scale), 0, qmax). A range too small for a
 *  normal-float scale (all zeros, or |x| below ~1e-33) gets scale 1, zp 0: everything maps to 0. */
static float affine_scale(float lo, float hi, int32_t qmax) {
    if (!(lo < 0.0f)) lo = 0.0f;
    if (!(hi > 0.0f)) hi = 0.0f;
    return (float)(((double)hi - (double)lo) / (double)qmax);
}

static grid affine_grid(float lo, float hi, int32_t qmax) {
    float scale = affine_scale(lo, hi, qmax);
    if (!scale_ok(scale)) return make_affine(1.0f, 0, qmax);
    if (lo > 0.0f) lo = 0.0f;
    return make_affine(scale, affine_zero_point(lo, scale, qmax), qmax);
}

/** The documented symmetric parameters for the clip magnitude m >= 0: scale = m / qmax, codes in
 *  [-qmax, qmax]. Degenerate magnitudes get scale 1 as in affine_grid. */
static grid symmetric_grid(float m, int32_t qmax) {
    float scale = (float)((double)m / (double)qmax);
    grid g = make_affine(scale_ok(scale) ? scale : 1.0f, 0, qmax);
    g.lo = (float)-qmax;
    return g;
}

static int same_grid(const grid *a, const grid *b) {
    return memcmp(&a->scale, &b->scale, sizeof(float)) == 0 && a->zp == b->zp;
}

/** The code (relative to the zero point) the kernel gives x on g. */
static float code_of(float x, const grid *g) { return fake_quantize(x, 1.0f, g->inv, g->lo, g->hi); }

/*
 * Settling the parameters (idempotence).
 *
 * The second application derives its parameters from the extremes of the first one's output,
 * fl(code_lo * scale) and fl(code_hi * scale). It derives exactly the same grid — and then maps
 * every output onto itself — iff the grid is
 *   self-consistent: the formula applied to its own end points fl(lo * scale), fl(hi * scale)
 *                    gives back the same scale and zero point (fails for a fraction of scales,
 *                    by one ulp, because those products are rounded), and
 *   reached:         the data's extremes (with 0) land on the grid's end codes (fails when both
 *                    ends sit on half codes and round inwards: a tie, e.g. [-2.5, 0.5] at 2 bits).
 * So the formula's scale is moved by the fewest ulps (0, -1, +1, -2, ...) that satisfy both,
 * trying the formula's zero point first, then its neighbours. That is a relative change below
 * 1e-5 and keeps outputs within a hair of the formula's. If no candidate within SETTLE_ULPS does
 * (never seen in testing), the formula's parameters are used as they are.
 */
enum { SETTLE_ULPS = 64 };

/** The d-th candidate scale around s: s, s-1ulp, s+1ulp, s-2ulp, ... */
static float ulp_step(float s, int d) {
    int steps = (d + 1) / 2;
    float toward = (d % 2) ? 0.0f : FLT_MAX;
    for (int i = 0; i < steps; i++) s = nextafterf(s, toward);
    return s;
}

/** Whether affine grid g is self-consistent and reached by the values lo <= 0 <= hi. */
static int affine_settled(const grid *g, float lo, float hi, int32_t qmax) {
    grid back = affine_grid(g->lo * g->scale, g->hi * g->scale, qmax);
    return same_grid(&back, g) && code_of(lo, g) == g->lo && code_of(hi, g) == g->hi;
}

/** The grid for the clip range [clip_lo, clip_hi] given the data extremes [lo, hi], settled. */
static grid settle_affine(float clip_lo, float clip_hi, float lo, float hi, int32_t qmax) {
    grid g0 = affine_grid(clip_lo, clip_hi, qmax);
    if (!scale_ok(affine_scale(clip_lo, clip_hi, qmax)))
        return g0; /* the degenerate fallback: every output is 0, trivially idempotent */
    if (clip_lo > 0.0f) clip_lo = 0.0f;
    for (int d = 0; d <= 2 * SETTLE_ULPS; d++) {
        float scale = ulp_step(g0.scale, d);
        if (!scale_ok(scale)) continue;
        int32_t z = affine_zero_point(clip_lo, scale, qmax);
        for (int32_t dz = 0; dz < 3; dz++) {
            int32_t zp = z + (dz == 1 ? 1 : dz == 2 ? -1 : 0);
            if (zp < 0 || zp > qmax) continue;
            grid g = make_affine(scale, zp, qmax);
            if (affine_settled(&g, lo, hi, qmax) && affine_settled(&g, clip_lo, clip_hi < 0 ? 0 : clip_hi, qmax))
                return g;
        }
    }
    return g0;
}

/** Symmetric counterpart: m is the data's max |x|, clip the clip magnitude. */
static grid settle_symmetric(float clip, float m, int32_t qmax) {
    grid g0 = symmetric_grid(clip, qmax);
    if (!scale_ok((float)((double)clip / (double)qmax))) return g0; /* degenerate: all outputs 0 */
    for (int d = 0; d <= 2 * SETTLE_ULPS; d++) {
        float scale = ulp_step(g0.scale, d);
        if (!scale_ok(scale)) continue;
        grid g = g0;
        g.scale = scale;
        g.inv = 1.0f / scale;
        grid back = symmetric_grid(g.hi * scale, qmax);
        if (same_grid(&back, &g) && code_of(m, &g) == g.hi && code_of(clip, &g) == g.hi) return g;
    }
    return g0;
}

/* ------------------------------------------------------------------------------------------ */
/* Range estimation                                                                            */

/** min and max of x together with 0, and whether any value is NaN or infinite. One pass over
 *  eight independent lanes, branch-free, so that both GCC and Clang vectorize it (Clang will not
 *  vectorize a compare-select float min reduction without fast-math). */
static int minmax_run(const float *x, size_t n, float *out_lo, float *out_hi) {
    enum { LANES = 8 };
    float lo[LANES], hi[LANES];
    int bad[LANES];
    for (size_t k = 0; k < LANES; k++) {
        lo[k] = 0.0f;
        hi[k] = 0.0f;
        bad[k] = 0;
    }
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (size_t k = 0; k < LANES; k++) {
            float v = x[i + k];
            lo[k] = v < lo[k] ? v : lo[k];
            hi[k] = v > hi[k] ? v : hi[k];
            bad[k] |= (v - v) != 0.0f; /* NaN - NaN and inf - inf are NaN; finite - itself is 0 */
        }
    }
    for (; i < n; i++) {
        float v = x[i];
        lo[0] = v < lo[0] ? v : lo[0];
        hi[0] = v > hi[0] ? v : hi[0];
        bad[0] |= (v - v) != 0.0f;
    }
    for (size_t k = 1; k < LANES; k++) {
        lo[0] = lo[k] < lo[0] ? lo[k] : lo[0];
        hi[0] = hi[k] > hi[0] ? hi[k] : hi[0];
        bad[0] |= bad[k];
    }
    *out_lo = lo[0];
    *out_hi = hi[0];
    return bad[0];
}

static void swap_f(float *a, float *b) {
    float t = *a;
    *a = *b;
    *b = t;
}

static int compare_floats(const void *pa, const void *pb) {
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/**
 * nth_element: reorders a[0..n) so that a[k] is the k-th smallest, everything before it is <=
 * and everything after it >=. Quickselect with a median-of-three pivot and Hoare partitioning;
 * after 2*log2(n) + 8 rounds it falls back to sorting the remaining range (introselect), so the
 * worst case is O(n log n). Deterministic (no random pivots).
 */
static void nth_element(float *a, size_t n, size_t k) {
    size_t left = 0, right = n - 1; /* inclusive */
    int budget = 8;
    for (size_t m = n; m > 1; m >>= 1) budget += 2;
    while (right > left) {
        if (budget-- <= 0 || right - left < 16) {
            qsort(a + left, right - left + 1, sizeof(float), compare_floats);
            return;
        }
        size_t mid = left + (right - left) / 2;
        if (a[mid] < a[left]) swap_f(&a[mid], &a[left]);
        if (a[right] < a[left]) swap_f(&a[right], &a[left]);
        if (a[right] < a[mid]) swap_f(&a[right], &a[mid]);
        float pivot = a[mid];
        size_t i = left, j = right;
        for (;;) {
            while (a[i] < pivot) i++;
            while (pivot < a[j]) j--;
            if (i >= j) break;
            swap_f(&a[i], &a[j]);
            i++;
            j--;
        }
        /* Now a[left..j] <= pivot <= a[j+1..right]. */
        if (k <= j) right = j;
        else left = j + 1;
    }
}

/** Rank of the p-th percentile (0..100) of n >= 1 values: the order statistic nearest to the
 *  position p/100 * (n - 1), ties to even (numpy's method="nearest"). No interpolation: the clip
 *  ends are data values, which is what keeps this estimator idempotent (see the file comment). */
static size_t percentile_rank(size_t n, double p) {
    double pos = nearbyint(p / 100.0 * (double)(n - 1));
    if (!(pos > 0.0)) return 0;
    return pos >= (double)(n - 1) ? n - 1 : (size_t)pos;
}

/** The p-th percentile of a[0..n), n >= 1 (a is scratch; it is reordered). */
static float percentile_select(float *a, size_t n, double p) {
    size_t r = percentile_rank(n, p);
    nth_element(a, n, r);
    return a[r];
}

/** The (100 - p)-th and p-th percentiles of a[0..n), p >= 50 (a is scratch; it is reordered).
 *  The upper selection leaves the r_hi + 1 smallest values in a[0..r_hi], so the lower one,
 *  whose rank is <= r_hi, selects within that prefix. */
static void percentile_pair(float *a, size_t n, double p, float *out_lo, float *out_hi) {
    size_t r_hi = percentile_rank(n, p), r_lo = percentile_rank(n, 100.0 - p);
    if (r_lo > r_hi) r_lo = r_hi;
    nth_element(a, n, r_hi);
    *out_hi = a[r_hi];
    nth_element(a, r_hi + 1, r_lo);
    *out_lo = a[r_lo];
}

/* ------------------------------------------------------------------------------------------ */
/* Argument checking                                                                           */


/** Everything shared by both quantizers: checks the arguments and resolves the data pointers. */
typedef lathe_quantizer_job job;

static int32_t prepare(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                       bool per_channel, int32_t range, float percentile, job *out) {
    char message[160];
    if (!call || !call->host) return LATHE_INVALID_ARGUMENT;
    if (!input || !output) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "input and output must be non-NULL");
    if (bits < BITS_MIN || bits > BITS_MAX) {
        snprintf(message, sizeof message, "bits must be in %d..%d, got %d", BITS_MIN, BITS_MAX, (int)bits);
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    if (range < 0 || range >= RANGE_COUNT) {
        snprintf(message, sizeof message, "range must be 0 (minmax), 1 (percentile) or 2 (mse), got %d", (int)range);
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    if (!(percentile >= 90.0f && percentile <= 100.0f)) {
        snprintf(message, sizeof message, "percentile must be in 90..100, got %g", (double)percentile);
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    return lathe_prepare_quantizer(call, input, output, per_channel, out);
}

/* ------------------------------------------------------------------------------------------ */
/* The quantizers                                                                              */

typedef enum scheme { SCHEME_AFFINE, SCHEME_SYMMETRIC } scheme;

/** The settled grid of one channel (data x[0..n), extremes lo <= 0 <= hi) for the chosen
 *  estimator. `tmp` is scratch for `n` floats (percentile only). */
static grid channel_grid(scheme s, const float *x, size_t n, float lo, float hi, int32_t qmax,
                         int32_t range, float percentile, float *tmp) {
    if (s == SCHEME_AFFINE) {
        float clip_lo = lo, clip_hi = hi;
        if (n > 0 && range == RANGE_PERCENTILE) {
            memcpy(tmp, x, n * sizeof(float));
            percentile_pair(tmp, n, (double)percentile, &clip_lo, &clip_hi);
        } else if (n > 0 && range == RANGE_MSE) {
            double best = INFINITY;
            for (int step = MSE_STEPS; step >= 1; step--) { /* from alpha = 1: ties keep the wider range */
                float alpha = (float)step / (float)MSE_STEPS;
                grid c = affine_grid(alpha * lo, alpha * hi, qmax);
                double e = quantize_sse(x, n, &c);
                if (e < best) {
                    best = e;
                    clip_lo = alpha * lo;
                    clip_hi = alpha * hi;
                }
            }
        }
        return settle_affine(clip_lo, clip_hi, lo, hi, qmax);
    } else {
        float m = -lo > hi ? -lo : hi; /* max |x| */
        float clip = m;
        if (n > 0 && range == RANGE_PERCENTILE) {
            for (size_t i = 0; i < n; i++) tmp[i] = fabsf(x[i]);
            clip = percentile_select(tmp, n, (double)percentile);
        } else if (n > 0 && range == RANGE_MSE) {
            double best = INFINITY;
            for (int step = MSE_STEPS; step >= 1; step--) {
                float alpha = (float)step / (float)MSE_STEPS;
                grid c = symmetric_grid(alpha * m, qmax);
                double e = quantize_sse(x, n, &c);
                if (e < best) {
                    best = e;
                    clip = alpha * m;
                }
            }
        }
        return settle_symmetric(clip, m, qmax);
    }
}

static int32_t run_quantizer(scheme s, lathe_call *call, const DLTensor *input, DLTensor *output,
                             int32_t bits, bool per_channel, int32_t range, float percentile) {
    job j;
    memset(&j, 0, sizeof j);
    int32_t status = prepare(call, input, output, bits, per_channel, range, percentile, &j);
    if (status != LATHE_OK) return status;
    const lathe_host *host = call->host;

    int32_t qmin, qmax;
    if (s == SCHEME_AFFINE) {
        qmin = 0;
        qmax = (int32_t)((1u << bits) - 1u);
    } else {
        qmax = (int32_t)((1u << (bits - 1)) - 1u);
        qmin = -qmax;
    }

    /* Per-channel parameter arrays (host copies them); per-tensor uses the stack. */
    float one_scale;
    int32_t one_zp;
    float *scales = &one_scale;
    int32_t *zps = &one_zp;
    if (j.channels > 1) {
        scales = host->scratch(call, j.channels * sizeof(float));
        zps = host->scratch(call, j.channels * sizeof(int32_t));
        if (!scales || !zps) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for per-channel parameters");
    }
    float *tmp = NULL;
    if (range == RANGE_PERCENTILE && j.inner > 0) {
        tmp = host->scratch(call, j.inner * sizeof(float));
        if (!tmp) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for the percentile estimator");
    }

    for (size_t c = 0; c < j.channels; c++) {
        if (j.inner == 0) { /* empty tensor: nothing to write, neutral parameters */
            scales[c] = 1.0f;
            zps[c] = 0;
            continue;
        }
        const float *x = j.x + c * j.inner;
        float *y = j.y + c * j.inner;
        float lo, hi;
        if (minmax_run(x, j.inner, &lo, &hi))
            return lathe_fail(call, LATHE_INVALID_ARGUMENT, "input contains NaN or infinite values");
        grid g = channel_grid(s, x, j.inner, lo, hi, qmax, range, percentile, tmp);
        if (!isfinite(g.lo * g.scale) || !isfinite(g.hi * g.scale))
            return lathe_fail(call, LATHE_UNSUPPORTED, "input range too close to FLT_MAX: the grid's end points overflow");
        if ((const float *)y == x) quantize_inplace(y, j.inner, &g);
        else quantize_run(x, y, j.inner, &g);
        scales[c] = g.scale;
        zps[c] = g.zp;
    }

    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = s == SCHEME_AFFINE ? LATHE_QSCHEME_AFFINE : LATHE_QSCHEME_SYMMETRIC;
    q.bits = bits;
    q.axis = per_channel ? 0 : -1;
    q.qmin = qmin;
    q.qmax = qmax;
    q.count = (uint32_t)j.channels;
    q.scales = scales;
    q.zero_points = zps; /* symmetric: explicit zeros */
    status = host->report_qparams(call, &q);
    if (status != LATHE_OK) return lathe_fail(call, status, "the host refused the quantization parameters");
    return LATHE_OK;
}

/** uniform/affine — see the method's doc string below. */
static int32_t quantize_affine(lathe_call *call, const DLTensor *input, DLTensor *output,
                               int32_t bits, bool per_channel, int32_t range, float percentile) {
    return run_quantizer(SCHEME_AFFINE, call, input, output, bits, per_channel, range, percentile);
}

/** uniform/symmetric — see the method's doc string below. */
static int32_t quantize_symmetric(lathe_call *call, const DLTensor *input, DLTensor *output,
                                  int32_t bits, bool per_channel, int32_t range, float percentile) {
    return run_quantizer(SCHEME_SYMMETRIC, call, input, output, bits, per_channel, range, percentile);
}

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

static const char *const range_choices[RANGE_COUNT] = {"minmax", "percentile", "mse"};

/** The four hyperparameters, in argument order; shared by both methods. */
static const lathe_param quantizer_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b of the integer grid", 8, 2, 16, NULL, 0},
    {LATHE_HEAD(lathe_param), "per_channel", LATHE_PARAM_BOOL,
     "one scale (and zero point) per output channel (dimension 0) instead of per tensor", 0, 0, 1, NULL, 0},
    {LATHE_HEAD(lathe_param), "range", LATHE_PARAM_ENUM,
     "clip-range estimator: minmax (exact extremes), percentile (clip the tails), mse (clip ratio "
     "minimizing squared error over a 100-step grid)",
     0, 0, 0, range_choices, RANGE_COUNT},
    {LATHE_HEAD(lathe_param), "percentile", LATHE_PARAM_F32,
     "percentile estimator: clip to the (100 - p)-th and p-th percentiles (nearest rank)", 99.99, 90, 100, NULL, 0},
};

static const char affine_doc[] =
    "Fake-quantizes onto an unsigned b-bit grid with a zero point. With the clip range [min, max] "
    "widened to contain 0 (so 0 is exactly representable): scale = (max - min) / (2^b - 1), "
    "zero_point = clamp(round(-min / scale), 0, 2^b - 1), "
    "x_q = (clamp(round(x / scale) + zero_point, 0, 2^b - 1) - zero_point) * scale, "
    "round half to even. Range estimators: minmax = the tensor's (or channel's) extremes; "
    "percentile = the (100 - p)-th and p-th percentiles (nearest-rank order statistics at "
    "position p/100 * (n - 1), numpy's method='nearest'); mse = alpha * [min, max] with alpha in "
    "0.01..1.00 (step 0.01) minimizing the squared error. A zero range gives scale 1, zero point 0. "
    "Idempotent: the scale is moved by a few ulps (and at exact ties the zero point by one) so "
    "that re-quantizing the output reproduces the same grid. Per-channel: one (scale, zero point) "
    "per index of dimension 0.";

static const char symmetric_doc[] =
    "Fake-quantizes onto a signed, restricted-range b-bit grid with zero point 0: "
    "scale = max|x| / (2^(b-1) - 1), x_q = clamp(round(x / scale), -(2^(b-1) - 1), 2^(b-1) - 1) "
    "* scale, round half to even (restricted range: -2^(b-1) is never used). Range estimators act "
    "on |x|: minmax = max|x|; percentile = the p-th percentile of |x| (nearest rank); mse = "
    "alpha * max|x| with alpha in 0.01..1.00 minimizing the squared error. A zero range gives "
    "scale 1. Idempotent: the scale is moved by a few ulps so that re-quantizing the output "
    "reproduces the same grid. Per-channel: one scale per index of dimension 0.";

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "affine", "Uniform affine quantizer", affine_doc,
         "Jacob et al., Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-"
         "Only Inference, CVPR 2018; Krishnamoorthi, Quantizing deep convolutional networks for "
         "efficient inference: A whitepaper, arXiv:1806.08342, 2018",
         LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE,
         LATHE_LOSS_NONE, quantizer_params, 4, (lathe_function)quantize_affine},
        {LATHE_HEAD(lathe_method), "symmetric", "Uniform symmetric quantizer", symmetric_doc,
         "Krishnamoorthi, Quantizing deep convolutional networks for efficient inference: A "
         "whitepaper, arXiv:1806.08342, 2018; Jacob et al., CVPR 2018",
         LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE,
         LATHE_LOSS_NONE, quantizer_params, 4, (lathe_function)quantize_symmetric},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) {
            if (host && host->log) host->log(host, 3, "uniform: registering a method failed");
            return status;
        }
    }
    return LATHE_OK;
}

static const lathe_plugin uniform_plugin = {
    LATHE_HEAD(lathe_plugin),
    "uniform",
    "1.0.0",
    "Uniform affine and symmetric fake-quantizers (minmax, percentile and MSE range estimators)",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &uniform_plugin; }
