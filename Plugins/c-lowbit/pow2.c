/* lowbit: power-of-two (logarithmic) quantizer. */
#include "lowbit_internal.h"

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

int32_t quantize_pow2(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits) {
    job j;
    int32_t status = prepare(call, input, output, false, &j);
    if (status != LATHE_OK) return status;
    if (bits < 2 || bits > 8) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "bits must be in 2..8, got %d", (int)bits);
    }
    float scale = 1.0f; /* reported: the largest level 2^k_max (1 for an all-zero tensor) */
    if (j.count > 0) {
        uint32_t top = max_abs_bits(j.x, j.count);
        if (top >= INF_BITS) return lathe_fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);
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

