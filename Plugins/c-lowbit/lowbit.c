/*
 * lowbit.c — the `lowbit` plugin: binary, ternary, power-of-two and k-means (codebook)
 * weight quantizers.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.0) only. Built by SwiftPM as libLatheLowBit.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include \
 *      -o liblowbit.so Plugins/c-lowbit/lowbit.c -lm
 *
 * Methods (all: kind quantizer, thread-safe, deterministic; per-channel means dimension 0)
 *   lowbit/binary   BWN / XNOR-Net weights: alpha_c * sign(w)          — Rastegari et al., ECCV 2016
 *   lowbit/ternary  TWN: alpha_c * sign(w) * [|w| > delta_c]           — Li, Zhang & Liu, 2016
 *   lowbit/pow2     sign(w) * 2^k, k in a window below round(log2 max|w|) — Miyashita et al., 2016
 *   lowbit/kmeans   1-D Lloyd k-means weight sharing (2^bits centroids)  — Han, Mao & Dally, ICLR 2016
 *
 * Idempotence. Every method is exactly idempotent, q(q(x)) == q(x) bit for bit (for channels of
 * fewer than 2^29 elements, where the sums below are exact):
 *   - binary: q(x) is +-alpha; the mean of n copies of alpha, summed in double, is alpha exactly.
 *   - ternary: the keep rule n * |w| > t * S (S = the double sum of |w|) is evaluated exactly
 *     (products as double-doubles via fma), and the kept set always satisfies t * k < n (exact in
 *     reals since every kept |w| exceeds t * mean; enforced, see ternary_channel). On q(x),
 *     S = k * alpha exactly, so the rule keeps every +-alpha (n > t * k) and no zero, and the mean
 *     of the kept magnitudes is alpha again.
 *   - pow2: the window's top exponent is the rounded exponent of max|w|, so max|q(x)| is exactly
 *     2^k_max and re-derives the same window; every level maps to itself.
 *   - kmeans: an input with at most 2^bits distinct values is returned unchanged (with those
 *     values as the codebook: the exact k-means optimum, zero distortion); q(x) has at most
 *     2^bits distinct values.
 * No global state is written; all temporaries come from host->scratch (or live on the stack and
 * are bounded by 2^8 centroids).
 */
#include <lathe_plugin.h>

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
static double sum_abs(const float *x, size_t n) {
    enum { LANES = 8 };
    double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (size_t k = 0; k < LANES; k++) acc[k] += (double)fabsf(x[i + k]);
    for (; i < n; i++) acc[0] += (double)fabsf(x[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/** Plain sum of x[0..n) in double (four accumulators, fixed order). */
static double sum_plain(const float *x, size_t n) {
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
static int compare_products(double a, double b, double c, double d) {
    double p = a * b, q = c * d;
    if (p != q) return p > q ? 1 : -1;
    double pe = fma(a, b, -p), qe = fma(c, d, -q);
    return (pe > qe) - (pe < qe);
}

/* ------------------------------------------------------------------------------------------ */
/* Argument checking                                                                           */

static int32_t fail(lathe_call *call, int32_t status, const char *message) {
    if (call && call->host && call->host->report_error) call->host->report_error(call, message);
    return status;
}

static int is_f32_cpu(const DLTensor *t) {
    return t->device.device_type == kDLCPU && t->dtype.code == kDLFloat && t->dtype.bits == 32 &&
           t->dtype.lanes == 1;
}

/** Element count of a compact row-major tensor, or -1 if the shape is negative or the strides
 *  describe another layout (dimensions of size 1 may carry any stride). */
static int64_t compact_count(const DLTensor *t) {
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

/** One call's resolved tensors. */
typedef struct job {
    const float *x;
    float *y;
    size_t count;    /**< elements */
    size_t channels; /**< 1 per-tensor, shape[0] per-channel */
    size_t inner;    /**< elements per channel */
} job;

/** Checks the tensors (float32 CPU, same shape, compact) and resolves the data pointers. */
static int32_t prepare(lathe_call *call, const DLTensor *input, DLTensor *output, bool per_channel, job *out) {
    memset(out, 0, sizeof *out);
    if (!call || !call->host) return LATHE_INVALID_ARGUMENT;
    if (!input || !output) return fail(call, LATHE_INVALID_ARGUMENT, "input and output must be non-NULL");
    if (!is_f32_cpu(input)) return fail(call, LATHE_UNSUPPORTED, "input must be a float32 CPU tensor");
    if (!is_f32_cpu(output)) return fail(call, LATHE_UNSUPPORTED, "output must be a float32 CPU tensor");
    if (input->ndim < 0 || (input->ndim > 0 && !input->shape))
        return fail(call, LATHE_INVALID_ARGUMENT, "input has an invalid shape");
    if (per_channel && input->ndim == 0)
        return fail(call, LATHE_INVALID_ARGUMENT,
                    "per_channel needs a tensor with a dimension 0 (channels); got a scalar");
    if (output->ndim != input->ndim || (output->ndim > 0 && !output->shape))
        return fail(call, LATHE_INVALID_ARGUMENT, "output must have the input's shape");
    for (int d = 0; d < input->ndim; d++) {
        if (output->shape[d] != input->shape[d])
            return fail(call, LATHE_INVALID_ARGUMENT, "output must have the input's shape");
    }
    int64_t count = compact_count(input);
    if (count < 0 || compact_count(output) != count)
        return fail(call, LATHE_UNSUPPORTED, "tensors must be compact row-major");
    if ((uint64_t)count > SIZE_MAX / (2 * sizeof(float))) return fail(call, LATHE_UNSUPPORTED, "tensor too large");
    size_t channels = per_channel ? (size_t)input->shape[0] : 1;
    if (per_channel && (channels == 0 || channels > UINT32_MAX))
        return fail(call, LATHE_UNSUPPORTED, "per_channel needs 1..2^32-1 channels");
    if (count > 0 && (!input->data || !output->data))
        return fail(call, LATHE_INVALID_ARGUMENT, "tensor data must be non-NULL");
    if (count > 0) {
        out->x = (const float *)(const void *)((const char *)input->data + input->byte_offset);
        out->y = (float *)(void *)((char *)output->data + output->byte_offset);
    }
    out->count = (size_t)count;
    out->channels = channels;
    out->inner = (size_t)count / channels;
    return LATHE_OK;
}

static const char non_finite_message[] = "input contains NaN or infinite values";

/** Per-channel scale array: the stack slot for one channel, scratch otherwise. */
static float *scale_array(lathe_call *call, size_t channels, float *one) {
    if (channels <= 1) return one;
    return call->host->scratch(call, channels * sizeof(float));
}

/** Reports scale-type parameters (binary, ternary, pow2). */
static int32_t report_scales(lathe_call *call, int32_t scheme, int32_t bits, bool per_channel,
                             size_t channels, const float *scales) {
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = scheme;
    q.bits = bits;
    q.axis = per_channel ? 0 : -1;
    q.count = (uint32_t)channels;
    q.scales = scales;
    int32_t status = call->host->report_qparams(call, &q);
    if (status != LATHE_OK) return fail(call, status, "the host refused the quantization parameters");
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* binary (BWN / XNOR-Net weights)                                                             */

/** y = alpha * sign(x), sign(0) = +1 (also for -0). */
static void binary_run(const float *x, float *y, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? -alpha : alpha;
}

static int32_t quantize_binary(lathe_call *call, const DLTensor *input, DLTensor *output, bool per_channel) {
    job j;
    int32_t status = prepare(call, input, output, per_channel, &j);
    if (status != LATHE_OK) return status;
    float one;
    float *scales = scale_array(call, j.channels, &one);
    if (!scales) return fail(call, LATHE_NO_MEMORY, "out of scratch memory for per-channel scales");

    for (size_t c = 0; c < j.channels; c++) {
        scales[c] = 1.0f;
        if (j.inner == 0) continue;
        const float *x = j.x + c * j.inner;
        float *y = j.y + c * j.inner;
        double s = sum_abs(x, j.inner);
        if (!isfinite(s)) return fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);
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

static int32_t quantize_ternary(lathe_call *call, const DLTensor *input, DLTensor *output, float threshold,
                                bool per_channel) {
    job j;
    int32_t status = prepare(call, input, output, per_channel, &j);
    if (status != LATHE_OK) return status;
    if (!(threshold >= 0.05f && threshold <= 1.5f)) {
        char message[96];
        snprintf(message, sizeof message, "threshold must be in 0.05..1.5, got %g", (double)threshold);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    float one;
    float *scales = scale_array(call, j.channels, &one);
    if (!scales) return fail(call, LATHE_NO_MEMORY, "out of scratch memory for per-channel scales");

    for (size_t c = 0; c < j.channels; c++) {
        scales[c] = 1.0f;
        if (j.inner == 0) continue;
        float alpha = ternary_channel(j.x + c * j.inner, j.y + c * j.inner, j.inner, threshold);
        if (alpha < 0.0f) return fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);
        if (alpha > 0.0f) scales[c] = alpha; /* nothing kept: zeros, scale reported as 1 */
    }
    return report_scales(call, LATHE_QSCHEME_TERNARY, 2, per_channel, j.channels, scales);
}

/* ------------------------------------------------------------------------------------------ */
/* pow2 (logarithmic / power-of-two)                                                           */

/*
 * round(log2 |w|) exactly, from the bits. For a normal float m * 2^e (m in [1, 2)),
 * log2|w| rounds up iff m > sqrt(2), i.e. iff the mantissa field is >= 0x3504F4 (1.41421365...;
 * 0x3504F3 is 1.41421353... < sqrt(2)); adding 0x800000 - 0x3504F4 = 0x4AFB0C carries into the
 * exponent exactly then. No float is exactly 2^(k + 1/2), so there are no ties.
 */
#define POW2_ROUND_CARRY 0x4AFB0Cu
#define ABS_MASK 0x7FFFFFFFu
#define SIGN_MASK 0x80000000u
#define EXP_ONE 0x00800000u /* bits of the smallest normal float, 2^-126 */
#define INF_BITS 0x7F800000u

/** round(log2 v) for v = |w| > 0 given its bits a (normal or subnormal). */
static int pow2_round_exponent(uint32_t a) {
    if (a >= EXP_ONE) return (int)((a + POW2_ROUND_CARRY) >> 23) - 127;
    /* Subnormal: v = a * 2^-149 with integer a in [1, 2^23). Let p = floor(log2 a); round up iff
     * a >= 2^(p + 1/2), i.e. a^2 >= 2^(2p + 1) (exact in 64-bit integers, never equal). */
    int p = 0;
    while ((a >> (p + 1)) != 0) p++;
    uint64_t sq = (uint64_t)a * (uint64_t)a;
    return p - 149 + (sq >= ((uint64_t)1 << (2 * p + 1)) ? 1 : 0);
}

/** Bits of 2^k as a float (0 if it underflows; k <= 127). */
static uint32_t pow2_bits(int k) {
    if (k >= -126) return (uint32_t)(k + 127) << 23;
    if (k >= -149) return (uint32_t)1 << (k + 149);
    return 0;
}

/** Largest |x| as abs bits (monotone in |x|); >= INF_BITS means non-finite. */
static uint32_t max_abs_bits(const float *x, size_t n) {
    enum { LANES = 8 };
    uint32_t m[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (size_t k = 0; k < LANES; k++) {
            uint32_t a = f2u(x[i + k]) & ABS_MASK;
            m[k] = a > m[k] ? a : m[k];
        }
    }
    for (; i < n; i++) {
        uint32_t a = f2u(x[i]) & ABS_MASK;
        m[0] = a > m[0] ? a : m[0];
    }
    for (size_t k = 1; k < LANES; k++) m[0] = m[k] > m[0] ? m[k] : m[0];
    return m[0];
}

/** Fast path: every level is a normal float (k_min >= -126). Branch-free, vectorizes.
 *  zero_below: abs bits under which the output is 0 (half the smallest level, >= 1). */
static void pow2_run_normal(const float *x, float *y, size_t n, int k_min, int k_max,
                            uint32_t zero_below) {
    const int32_t lo = k_min + 127, hi = k_max + 127;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f2u(x[i]);
        uint32_t a = u & ABS_MASK;
        int32_t e = (int32_t)((a + POW2_ROUND_CARRY) >> 23); /* biased round(log2|x|); subnormals give
                                                                 <= 1 and are clamped up to lo >= 1 */
        e = e < lo ? lo : e;
        e = e > hi ? hi : e;
        uint32_t q = (u & SIGN_MASK) | ((uint32_t)e << 23);
        y[i] = u2f(a < zero_below ? 0u : q);
    }
}

/** General path: levels in the subnormal range (k_min < -126). levels[i] = bits of 2^(k_min + i). */
static void pow2_run_general(const float *x, float *y, size_t n, int k_min, int count,
                             const uint32_t *levels, uint32_t zero_below) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f2u(x[i]);
        uint32_t a = u & ABS_MASK;
        uint32_t q = 0;
        if (a >= zero_below) {
            int idx = pow2_round_exponent(a) - k_min;
            idx = idx < 0 ? 0 : idx;
            idx = idx > count - 1 ? count - 1 : idx;
            uint32_t level = levels[idx];
            q = level ? ((u & SIGN_MASK) | level) : 0u; /* never -0 */
        }
        y[i] = u2f(q);
    }
}

static int32_t quantize_pow2(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits) {
    job j;
    int32_t status = prepare(call, input, output, false, &j);
    if (status != LATHE_OK) return status;
    if (bits < 2 || bits > 8) {
        char message[64];
        snprintf(message, sizeof message, "bits must be in 2..8, got %d", (int)bits);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    float scale = 1.0f; /* reported: the largest level 2^k_max (1 for an all-zero tensor) */
    if (j.count > 0) {
        uint32_t top = max_abs_bits(j.x, j.count);
        if (top >= INF_BITS) return fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);
        if (top == 0) {
            memset(j.y, 0, j.count * sizeof(float));
        } else {
            const int count = (1 << (bits - 1)) - 1; /* nonzero magnitudes; with +-, 0: 2^bits - 1 values */
            int k_max = pow2_round_exponent(top);
            if (k_max > 127) k_max = 127; /* 2^128 is not a float: |x| >= 2^127.5 maps to 2^127 */
            const int k_min = k_max - (count - 1);
            uint32_t zero_below = pow2_bits(k_min - 1); /* half the smallest level */
            if (zero_below == 0) zero_below = 1;        /* below every float but 0 */
            if (k_min >= -126) {
                pow2_run_normal(j.x, j.y, j.count, k_min, k_max, zero_below);
            } else {
                uint32_t levels[128];
                for (int i = 0; i < count; i++) levels[i] = pow2_bits(k_min + i);
                pow2_run_general(j.x, j.y, j.count, k_min, count, levels, zero_below);
            }
            scale = u2f(pow2_bits(k_max));
        }
    }
    return report_scales(call, LATHE_QSCHEME_POWER_OF_TWO, bits, false, 1, &scale);
}

/* ------------------------------------------------------------------------------------------ */
/* kmeans (Deep Compression weight sharing)                                                    */

enum { KMEANS_MAX_CENTROIDS = 256 };
enum { INIT_LINEAR = 0, INIT_DENSITY = 1, INIT_COUNT = 2 };

/** Order-preserving map of float bits to unsigned keys (negative floats reversed). */
static inline uint32_t sort_key(uint32_t u) { return (u & SIGN_MASK) ? ~u : (u | SIGN_MASK); }
static inline uint32_t unsort_key(uint32_t k) { return (k & SIGN_MASK) ? (k ^ SIGN_MASK) : ~k; }

/**
 * Sorts the n floats of x into `out` (ascending; -0 before +0; NaNs at the ends) with a 3-pass
 * LSD radix sort on 11-bit digits. `tmp` is scratch for n keys. Passes whose digit is constant
 * are skipped. Stable and deterministic; O(n).
 */
static void radix_sort_floats(const float *x, size_t n, uint32_t *tmp, float *out, size_t (*hist)[2048]) {
    memset(hist, 0, 3 * sizeof hist[0]);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = sort_key(f2u(x[i]));
        tmp[i] = k;
        hist[0][k & 2047u]++;
        hist[1][(k >> 11) & 2047u]++;
        hist[2][k >> 22]++;
    }
    /* The sort ping-pongs between tmp and a key view of `out`; keys are only ever accessed as
     * uint32_t there, and converted to floats (stored as float) at the end. */
    uint32_t *src = tmp, *dst = (uint32_t *)(void *)out;
    for (int pass = 0; pass < 3; pass++) {
        size_t *h = hist[pass];
        int shift = 11 * pass;
        int trivial = 0;
        for (size_t d = 0; d < 2048; d++) {
            if (h[d] == n) trivial = 1;
            if (h[d] != 0) break;
        }
        if (trivial) continue;
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = h[d];
            h[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t k = src[i];
            dst[h[(k >> shift) & 2047u]++] = k;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != (uint32_t *)(void *)out) memcpy(out, src, n * sizeof(uint32_t));
    uint32_t *keys = (uint32_t *)(void *)out;
    for (size_t i = 0; i < n; i++) {
        float f = u2f(unsort_key(keys[i]));
        out[i] = f;
    }
}

/** Number of v[lo..n) that are <= m (v sorted ascending), plus lo. */
static size_t upper_bound(const float *v, size_t lo, size_t n, double m) {
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((double)v[mid] <= m) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/** Assignment of sorted v to the K centroids c (non-decreasing): cluster j is v[b[j] .. b[j+1]),
 *  the values nearest to c[j] (ties go to the lower centroid). Midpoints are exact in double. */
static void kmeans_bounds(const float *v, size_t n, const float *c, int K, size_t *b) {
    b[0] = 0;
    for (int i = 0; i + 1 < K; i++) {
        double mid = ((double)c[i] + (double)c[i + 1]) * 0.5;
        b[i + 1] = upper_bound(v, b[i], n, mid);
    }
    b[K] = n;
}

/** Largest float <= m (m a finite double within the float range). */
static float float_at_or_below(double m) {
    float f = (float)m;
    if ((double)f > m) f = nextafterf(f, -INFINITY);
    return f;
}

/** The output mapping: y = the nearest codebook value (ties to the lower one). cb is strictly
 *  increasing with M >= 1 entries. Branch-free binary search over padded float thresholds:
 *  x > (c_i + c_{i+1}) / 2 iff x > the largest float at or below that midpoint. */
static void kmeans_map(const float *x, float *y, size_t n, const float *cb, int M) {
    float thresholds[KMEANS_MAX_CENTROIDS];
    int P = 1;
    while (P < M) P <<= 1;
    for (int i = 0; i + 1 < P; i++)
        thresholds[i] = i + 1 < M ? float_at_or_below(((double)cb[i] + (double)cb[i + 1]) * 0.5) : INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        int idx = 0;
        for (int step = P >> 1; step > 0; step >>= 1) idx += v > thresholds[idx + step - 1] ? step : 0;
        y[i] = cb[idx];
    }
}

static int32_t report_codebook(lathe_call *call, int32_t bits, const float *codebook, uint32_t size) {
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = LATHE_QSCHEME_CODEBOOK;
    q.bits = bits;
    q.axis = -1;
    q.count = 1;
    q.codebook = codebook;
    q.codebook_size = size;
    int32_t status = call->host->report_qparams(call, &q);
    if (status != LATHE_OK) return fail(call, status, "the host refused the quantization parameters");
    return LATHE_OK;
}

static int32_t quantize_kmeans(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                               int32_t iterations, int32_t init) {
    job j;
    int32_t status = prepare(call, input, output, false, &j);
    if (status != LATHE_OK) return status;
    char message[96];
    if (bits < 1 || bits > 8) {
        snprintf(message, sizeof message, "bits must be in 1..8, got %d", (int)bits);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    if (iterations < 1 || iterations > 100) {
        snprintf(message, sizeof message, "iterations must be in 1..100, got %d", (int)iterations);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    if (init < 0 || init >= INIT_COUNT) {
        snprintf(message, sizeof message, "init must be 0 (linear) or 1 (density), got %d", (int)init);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    const int K = 1 << bits;
    const size_t n = j.count;
    float codebook[KMEANS_MAX_CENTROIDS];
    if (n == 0) {
        codebook[0] = 0.0f; /* nothing to quantize: a one-entry neutral codebook */
        return report_codebook(call, bits, codebook, 1);
    }

    /* Sorted copy of the values: into the output buffer (it is fully rewritten at the end)
     * unless a caller passed the input as the output. */
    uint32_t *tmp = call->host->scratch(call, n * sizeof(uint32_t));
    size_t(*hist)[2048] = call->host->scratch(call, 3 * sizeof hist[0]);
    float *v = (const float *)j.y != j.x ? j.y : call->host->scratch(call, n * sizeof(float));
    if (!tmp || !hist || !v) return fail(call, LATHE_NO_MEMORY, "out of scratch memory for the sorted values");
    radix_sort_floats(j.x, n, tmp, v, hist);
    if (!isfinite(v[0]) || !isfinite(v[n - 1])) return fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);

    /* At most K distinct values: they are the exact optimum (zero distortion); return x as is. */
    int distinct = 1;
    codebook[0] = v[0];
    for (size_t i = 1; i < n && distinct <= K; i++) {
        if (v[i] != v[i - 1]) {
            if (distinct < K) codebook[distinct] = v[i];
            distinct++;
        }
    }
    if (distinct <= K) {
        for (int i = 0; i < distinct; i++)
            if (codebook[i] == 0.0f) codebook[i] = 0.0f; /* report +0 even if the data's zero is -0 */
        if (j.y != j.x) memcpy(j.y, j.x, n * sizeof(float));
        return report_codebook(call, bits, codebook, (uint32_t)distinct);
    }

    /* Initial centroids, non-decreasing. */
    float c[KMEANS_MAX_CENTROIDS];
    const double lo = (double)v[0], hi = (double)v[n - 1];
    for (int i = 0; i < K; i++) {
        if (init == INIT_LINEAR) {
            double t = lo + (hi - lo) * (double)i / (double)(K - 1);
            float f = (float)t;
            c[i] = f < v[0] ? v[0] : (f > v[n - 1] ? v[n - 1] : f);
        } else { /* density: the ((i + 1/2) / K)-quantile, nearest rank */
            size_t r = (size_t)(((uint64_t)(2 * i + 1) * (uint64_t)n) / (uint64_t)(2 * K));
            c[i] = v[r < n ? r : n - 1];
        }
    }
    if (init == INIT_LINEAR) {
        c[0] = v[0];
        c[K - 1] = v[n - 1];
        for (int i = 1; i < K; i++) c[i] = c[i] < c[i - 1] ? c[i - 1] : c[i];
    }

    /* Lloyd: assign (segments of the sorted values) then update (segment means); empty clusters
     * keep their centroid. The means of ordered segments are ordered, and an empty cluster's old
     * centroid lies between its neighbours' new ones, so c stays non-decreasing. Stops early when
     * an update leaves the assignment unchanged (then c is a fixed point). */
    size_t b[KMEANS_MAX_CENTROIDS + 1], nb[KMEANS_MAX_CENTROIDS + 1];
    kmeans_bounds(v, n, c, K, b);
    for (int it = 0; it < iterations; it++) {
        for (int i = 0; i < K; i++) {
            size_t len = b[i + 1] - b[i];
            if (len == 0) continue;
            float m = (float)(sum_plain(v + b[i], len) / (double)len);
            /* The mean lies within the segment's range; keep it there against rounding. */
            float first = v[b[i]], last = v[b[i + 1] - 1];
            c[i] = m < first ? first : (m > last ? last : m);
        }
        for (int i = 1; i < K; i++) c[i] = c[i] < c[i - 1] ? c[i - 1] : c[i]; /* defensive */
        kmeans_bounds(v, n, c, K, nb);
        int same = memcmp(b, nb, (size_t)(K + 1) * sizeof b[0]) == 0;
        memcpy(b, nb, (size_t)(K + 1) * sizeof b[0]);
        if (same) break;
    }

    /* Codebook: the centroids that own values under the final assignment, without repeats.
     * Dropping unused centroids changes no value's nearest centroid. */
    int M = 0;
    for (int i = 0; i < K; i++) {
        if (b[i + 1] == b[i]) continue;
        float value = c[i] == 0.0f ? 0.0f : c[i];
        if (M == 0 || value != codebook[M - 1]) codebook[M++] = value;
    }
    kmeans_map(j.x, j.y, n, codebook, M); /* overwrites the sorted copy when it lives in y */
    return report_codebook(call, bits, codebook, (uint32_t)M);
}

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

static const lathe_param binary_params[] = {
    {LATHE_HEAD(lathe_param), "per_channel", LATHE_PARAM_BOOL,
     "one scale per output channel (dimension 0) instead of one per tensor", 1, 0, 1, NULL, 0},
};

static const lathe_param ternary_params[] = {
    {LATHE_HEAD(lathe_param), "threshold", LATHE_PARAM_F32,
     "t in delta = t * mean|w| (TWN's approximation of the optimal threshold uses 0.7)", 0.7, 0.05, 1.5, NULL, 0},
    {LATHE_HEAD(lathe_param), "per_channel", LATHE_PARAM_BOOL,
     "one (delta, alpha) per output channel (dimension 0) instead of one per tensor", 1, 0, 1, NULL, 0},
};

static const lathe_param pow2_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32,
     "bit width b: 0 and +-2^k for 2^(b-1) - 1 consecutive exponents k (2^b - 1 values)", 4, 2, 8, NULL, 0},
};

static const char *const init_choices[INIT_COUNT] = {"linear", "density"};

static const lathe_param kmeans_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b of the index: 2^b shared values", 4, 1, 8,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "iterations", LATHE_PARAM_I32, "maximum number of Lloyd iterations", 20, 1, 100,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "init", LATHE_PARAM_ENUM,
     "centroid initialization: linear (evenly over [min, max]; best in Deep Compression) or density "
     "(evenly spaced quantiles of the weights)",
     0, 0, 0, init_choices, INIT_COUNT},
};

static const char binary_doc[] =
    "Binary weights (BWN, the weight half of XNOR-Net): alpha_c = mean(|w_c|) over each output "
    "channel c (dimension 0; the whole tensor when per_channel is off), x_q = alpha_c * sign(x) "
    "with sign(0) = +1. alpha is the L2-optimal scale for sign(w). The mean is summed in double "
    "and rounded once to float, which makes the method exactly idempotent. An all-zero channel "
    "gives zeros and reports scale 1. Reports scheme binary, 1 bit, one scale per channel.";

static const char ternary_doc[] =
    "Ternary weights (TWN): per output channel c (or per tensor), delta_c = t * mean(|w_c|) with t "
    "= threshold (0.7 approximates the optimal threshold for Gaussian or uniform weights), "
    "I_c = {i : |w_i| > delta_c}, alpha_c = mean(|w_i|) over I_c, x_q = alpha_c * sign(x) on I_c "
    "and 0 elsewhere. The comparison |w| > delta is evaluated exactly as n * |w| > t * sum|w| "
    "(the sum in double), and the kept count k always satisfies t * k < n, which makes the "
    "method exactly idempotent for any threshold. A channel with nothing above delta (possible "
    "for t >= 1, or all zeros) gives zeros and reports scale 1. Reports scheme ternary, 2 bits, "
    "scales alpha_c.";

static const char pow2_doc[] =
    "Power-of-two (logarithmic) weights, per tensor: k_max = round(log2(max|w|)) (capped at 127), "
    "k_min = k_max - (2^(b-1) - 2); x_q = sign(x) * 2^clamp(round(log2|x|), k_min, k_max), and "
    "x_q = 0 for |x| < 2^(k_min - 1) (half the smallest level). round(log2|x|) rounds at the "
    "geometric midpoint sqrt(2) * 2^k and is computed exactly from the float's bits. Levels: 0 and "
    "+-2^k, 2^b - 1 values. k_max is the rounded exponent of the largest magnitude itself, so the "
    "top level is never clipped and q(q(x)) == q(x). Reports scheme power-of-two, b bits, axis "
    "-1, one scale = 2^k_max (the largest level; 1 for an all-zero tensor).";

static const char kmeans_doc[] =
    "Weight sharing by k-means (Deep Compression), per tensor: K = 2^b centroids initialized "
    "linearly over [min, max] (or at the ((i + 1/2) / K)-quantiles for init=density), then up to "
    "`iterations` Lloyd steps on the 1-D values (sorted once; each assignment gives every value to "
    "its nearest centroid, ties to the lower; each update sets a centroid to the mean of its "
    "values, in double; empty clusters keep their centroid; stops early when the assignment is "
    "stable). x_q = the nearest final centroid. A tensor with at most K distinct values is "
    "returned unchanged with those values as the codebook (the exact k-means optimum), which "
    "makes the method idempotent. Reports scheme codebook, b bits, axis -1, the centroids that "
    "are used (sorted, at most 2^b), no scales.";

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const uint32_t flags = LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC;
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "binary", "Binary weights (BWN / XNOR-Net)", binary_doc,
         "Rastegari, Ordonez, Redmon & Farhadi, XNOR-Net: ImageNet Classification Using Binary "
         "Convolutional Neural Networks, ECCV 2016",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, binary_params, 1,
         (lathe_function)quantize_binary},
        {LATHE_HEAD(lathe_method), "ternary", "Ternary weights (TWN)", ternary_doc,
         "Li, Zhang & Liu, Ternary Weight Networks, arXiv:1605.04711, 2016",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, ternary_params, 2,
         (lathe_function)quantize_ternary},
        {LATHE_HEAD(lathe_method), "pow2", "Power-of-two (logarithmic) quantizer", pow2_doc,
         "Miyashita, Lee & Murmann, Convolutional Neural Networks using Logarithmic Data "
         "Representation, arXiv:1603.01025, 2016; Zhou et al., Incremental Network Quantization: "
         "Towards Lossless CNNs with Low-Precision Weights, ICLR 2017",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, pow2_params, 1,
         (lathe_function)quantize_pow2},
        {LATHE_HEAD(lathe_method), "kmeans", "k-means weight sharing (Deep Compression)", kmeans_doc,
         "Han, Mao & Dally, Deep Compression: Compressing Deep Neural Networks with Pruning, Trained "
         "Quantization and Huffman Coding, ICLR 2016",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, kmeans_params, 3,
         (lathe_function)quantize_kmeans},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) {
            if (host && host->log) host->log(host, 3, "lowbit: registering a method failed");
            return status;
        }
    }
    return LATHE_OK;
}

static const lathe_plugin lowbit_plugin = {
    LATHE_HEAD(lathe_plugin),
    "lowbit",
    "1.0.0",
    "Low-bit weight quantizers: binary (BWN), ternary (TWN), power-of-two and k-means codebook",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &lowbit_plugin; }
