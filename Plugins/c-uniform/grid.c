/* grid.c — the uniform plugin's fake-quantization kernel and the parameters for a clip range,
 * settled so that quantizing twice changes nothing (see uniform.c). */
#include "uniform_internal.h"

#include <string.h>

/** Fake-quantizes `n` values into a separate buffer. The hot loop: one read, one write per
 *  element, vectorized. */
LATHE_SUPPORT_HIDDEN void quantize_run(const float *restrict x, float *restrict y, size_t n, const grid *g) {
    const float scale = g->scale, inv = g->inv, lo = g->lo, hi = g->hi;
    for (size_t i = 0; i < n; i++) y[i] = fake_quantize(x[i], scale, inv, lo, hi);
}

/** In-place variant for when input and output are the same buffer (restrict would be a lie). */
LATHE_SUPPORT_HIDDEN void quantize_inplace(float *x, size_t n, const grid *g) {
    const float scale = g->scale, inv = g->inv, lo = g->lo, hi = g->hi;
    for (size_t i = 0; i < n; i++) x[i] = fake_quantize(x[i], scale, inv, lo, hi);
}

/** Sum of squared errors of quantizing `n` values onto `g`, in double (4 accumulators). */
LATHE_SUPPORT_HIDDEN double quantize_sse(const float *x, size_t n, const grid *g) {
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

LATHE_SUPPORT_HIDDEN grid affine_grid(float lo, float hi, int32_t qmax) {
    float scale = affine_scale(lo, hi, qmax);
    if (!scale_ok(scale)) return make_affine(1.0f, 0, qmax);
    if (lo > 0.0f) lo = 0.0f;
    return make_affine(scale, affine_zero_point(lo, scale, qmax), qmax);
}

/** The documented symmetric parameters for the clip magnitude m >= 0: scale = m / qmax, codes in
 *  [-qmax, qmax]. Degenerate magnitudes get scale 1 as in affine_grid. */
LATHE_SUPPORT_HIDDEN grid symmetric_grid(float m, int32_t qmax) {
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
LATHE_SUPPORT_HIDDEN grid settle_affine(float clip_lo, float clip_hi, float lo, float hi, int32_t qmax) {
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
LATHE_SUPPORT_HIDDEN grid settle_symmetric(float clip, float m, int32_t qmax) {
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
