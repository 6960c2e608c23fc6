/* lowbit: k-means weight sharing (Deep Compression). */
#include "lowbit_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* kmeans (Deep Compression weight sharing)                                                    */

enum { KMEANS_MAX_CENTROIDS = 256 };

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
    return lathe_report_qparams(call, &q);
}

int32_t quantize_kmeans(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                               int32_t iterations, int32_t init) {
    job j;
    int32_t status = prepare(call, input, output, false, &j);
    if (status != LATHE_OK) return status;
    if (bits < 1 || bits > 8) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "bits must be in 1..8, got %d", (int)bits);
    }
    if (iterations < 1 || iterations > 100) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "iterations must be in 1..100, got %d", (int)iterations);
    }
    if (init < 0 || init >= INIT_COUNT) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "init must be 0 (linear) or 1 (density), got %d", (int)init);
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
    uint32_t *tmp = lathe_scratch(call, n * sizeof(uint32_t));
    size_t(*hist)[2048] = lathe_scratch(call, 3 * sizeof hist[0]);
    float *v = (const float *)j.y != j.x ? j.y : lathe_scratch(call, n * sizeof(float));
    if (!tmp || !hist || !v) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for the sorted values");
    radix_sort_floats(j.x, n, tmp, v, hist);
    if (!isfinite(v[0]) || !isfinite(v[n - 1])) return lathe_fail(call, LATHE_INVALID_ARGUMENT, non_finite_message);

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

