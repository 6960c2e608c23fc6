/* ranges.c — range statistics for the uniform plugin's estimators: min/max with a finiteness
 * check, and nearest-rank percentiles by selection. */
#include "uniform_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Range estimation                                                                            */

/** min and max of x together with 0, and whether any value is NaN or infinite. One pass over
 *  eight independent lanes, branch-free, so that both GCC and Clang vectorize it (Clang will not
 *  vectorize a compare-select float min reduction without fast-math). */
LATHE_SUPPORT_HIDDEN int minmax_run(const float *x, size_t n, float *out_lo, float *out_hi) {
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
LATHE_SUPPORT_HIDDEN float percentile_select(float *a, size_t n, double p) {
    size_t r = percentile_rank(n, p);
    nth_element(a, n, r);
    return a[r];
}

/** The (100 - p)-th and p-th percentiles of a[0..n), p >= 50 (a is scratch; it is reordered).
 *  The upper selection leaves the r_hi + 1 smallest values in a[0..r_hi], so the lower one,
 *  whose rank is <= r_hi, selects within that prefix. */
LATHE_SUPPORT_HIDDEN void percentile_pair(float *a, size_t n, double p, float *out_lo, float *out_hi) {
    size_t r_hi = percentile_rank(n, p), r_lo = percentile_rank(n, 100.0 - p);
    if (r_lo > r_hi) r_lo = r_hi;
    nth_element(a, n, r_hi);
    *out_hi = a[r_hi];
    nth_element(a, r_hi + 1, r_lo);
    *out_lo = a[r_lo];
}
