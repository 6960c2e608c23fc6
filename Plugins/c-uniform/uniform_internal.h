/* uniform_internal.h — what the uniform plugin's files share (private): limits, the grid and
 * its fake-quantization kernel (grid.c), and range statistics (ranges.c). See uniform.c. */
#ifndef UNIFORM_INTERNAL_H
#define UNIFORM_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

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


/* grid.c: the kernel loops and the parameters for a clip range ---------------------------- */

/** Fake-quantizes `n` values into a separate buffer. */
LATHE_SUPPORT_HIDDEN void quantize_run(const float *restrict x, float *restrict y, size_t n, const grid *g);
/** In-place variant for when input and output are the same buffer. */
LATHE_SUPPORT_HIDDEN void quantize_inplace(float *x, size_t n, const grid *g);
/** Sum of squared errors of quantizing `n` values onto `g`, in double. */
LATHE_SUPPORT_HIDDEN double quantize_sse(const float *x, size_t n, const grid *g);
/** The documented affine grid for the clip range [lo, hi] (widened to contain 0). */
LATHE_SUPPORT_HIDDEN grid affine_grid(float lo, float hi, int32_t qmax);
/** The documented symmetric grid for the clip magnitude m >= 0. */
LATHE_SUPPORT_HIDDEN grid symmetric_grid(float m, int32_t qmax);
/** The affine grid for [clip_lo, clip_hi] given the data extremes [lo, hi], settled (idempotent). */
LATHE_SUPPORT_HIDDEN grid settle_affine(float clip_lo, float clip_hi, float lo, float hi, int32_t qmax);
/** Symmetric counterpart: m is the data's max |x|, clip the clip magnitude. */
LATHE_SUPPORT_HIDDEN grid settle_symmetric(float clip, float m, int32_t qmax);

/* ranges.c: range statistics --------------------------------------------------------------- */

/** min and max of x[0..n) together with 0; nonzero when a value is NaN or infinite. */
LATHE_SUPPORT_HIDDEN int minmax_run(const float *x, size_t n, float *out_lo, float *out_hi);
/** The p-th percentile of a[0..n), n >= 1 (a is scratch; it is reordered). */
LATHE_SUPPORT_HIDDEN float percentile_select(float *a, size_t n, double p);
/** The (100 - p)-th and p-th percentiles of a[0..n), p >= 50 (a is scratch; it is reordered). */
LATHE_SUPPORT_HIDDEN void percentile_pair(float *a, size_t n, double p, float *out_lo, float *out_hi);

#endif
