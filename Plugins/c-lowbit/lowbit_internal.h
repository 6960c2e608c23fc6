/* lowbit_internal.h — helpers shared by the lowbit plugin's method files (private). */
#ifndef LOWBIT_INTERNAL_H
#define LOWBIT_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef __clang__
/* The exactness arguments above assume every operation is rounded as written: no fused
 * multiply-adds. (GCC does not contract in ISO C mode.) */
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/** Sum of |x[i]| in double, eight independent accumulators (combined in a fixed order, so the
 *  result is deterministic). NaN or infinite inputs make the sum non-finite; finite inputs never
 *  do (n * FLT_MAX is far below DBL_MAX). When all nonzero |x[i]| are equal to one float a (and
 *  n < 2^29), every partial sum is j * a, exactly representable: the sum is exact. */
static inline double sum_abs(const float *x, size_t n) {
    enum { LANES = 8 };
    double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (size_t k = 0; k < LANES; k++) acc[k] += (double)fabsf(x[i + k]);
    for (; i < n; i++) acc[0] += (double)fabsf(x[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/** Plain sum of x[0..n) in double (four accumulators, fixed order). */
static inline double sum_plain(const float *x, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) acc[k] += (double)x[i + k];
    for (; i < n; i++) acc[0] += (double)x[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/**
 * Sign of a*b - c*d, computed exactly. Each product is split into a double-double
 * (p = fl(a*b), e = a*b - p, exact by fma); rounding is monotone, so p1 > p2 implies
 * a*b > c*d, and equal heads compare by their exact tails. Valid while the products are zero or
 * far above the double underflow threshold (here: floats times counts and sums, >= 2^-160).
 */
static inline int compare_products(double a, double b, double c, double d) {
    double p = a * b, q = c * d;
    if (p != q) return p > q ? 1 : -1;
    double pe = fma(a, b, -p), qe = fma(c, d, -q);
    return (pe > qe) - (pe < qe);
}

/* ------------------------------------------------------------------------------------------ */
/* Argument checking                                                                           */


/** One call's resolved tensors. */
typedef lathe_quantizer_job job;

/** Checks the tensors and resolves the data pointers (see lathe_prepare_quantizer). */
static inline int32_t prepare(lathe_call *call, const DLTensor *input, DLTensor *output, bool per_channel, job *out) {
    return lathe_prepare_quantizer(call, input, output, per_channel, out);
}

static const char non_finite_message[] = "input contains NaN or infinite values";

/** Per-channel scale array: the stack slot for one channel, scratch otherwise. */
static inline float *scale_array(lathe_call *call, size_t channels, float *one) {
    if (channels <= 1) return one;
    return lathe_scratch(call, channels * sizeof(float));
}

/** Reports scale-type parameters (binary, ternary, pow2). */
static inline int32_t report_scales(lathe_call *call, int32_t scheme, int32_t bits, bool per_channel,
                             size_t channels, const float *scales) {
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = scheme;
    q.bits = bits;
    q.axis = per_channel ? 0 : -1;
    q.count = (uint32_t)channels;
    q.scales = scales;
    return lathe_report_qparams(call, &q);
}

/** The sign bit of a float's bit pattern. */
#define SIGN_MASK 0x80000000u
/** kmeans `init` choices. */
enum { INIT_LINEAR = 0, INIT_DENSITY = 1, INIT_COUNT = 2 };

/* The methods (one file each), registered by lowbit.c. */
LATHE_SUPPORT_HIDDEN int32_t quantize_binary(lathe_call *call, const DLTensor *input, DLTensor *output, bool per_channel);
LATHE_SUPPORT_HIDDEN int32_t quantize_ternary(lathe_call *call, const DLTensor *input, DLTensor *output, float threshold,
                                       bool per_channel);
LATHE_SUPPORT_HIDDEN int32_t quantize_pow2(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits);
LATHE_SUPPORT_HIDDEN int32_t quantize_kmeans(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                                      int32_t iterations, int32_t init);

#endif
