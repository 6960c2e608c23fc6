/*
 * uniform.c — the `uniform` plugin: uniform affine and symmetric fake-quantizers.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.0) only. Built by SwiftPM as libLatheUniform.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libuniform.so Plugins/c-uniform/uniform.c Plugins/c-uniform/grid.c \
 *      Plugins/c-uniform/ranges.c Plugins/c-support/support.c -lm
 *
 * Files: uniform.c (argument checks, the two methods, descriptors), grid.c (kernel, parameters
 * and their settling), ranges.c (min/max, percentiles), uniform_internal.h (what they share).
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
 *     by the data's extremes and the clip ends; see "Settling the parameters" in grid.c.
 *   - mse: on q(x) the unclipped candidate (alpha = 1) has zero error and wins.
 *   - percentile: the clip ends are data values (nearest-rank order statistics, no
 *     interpolation), so the same ranks of q(x) hold exactly the grid's end points.
 * Values already on the grid re-quantize to themselves since |code| <= 65535 and x * (1/scale)
 * is within a few ulps of the code.
 */
#include "uniform_internal.h"

#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Argument checking                                                                           */

/** Everything shared by both quantizers: checks the arguments and resolves the data pointers. */
typedef lathe_quantizer_job job;

static int32_t prepare(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                       bool per_channel, int32_t range, float percentile, job *out) {
    if (!call || !call->host) return LATHE_INVALID_ARGUMENT;
    if (!input || !output) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "input and output must be non-NULL");
    if (bits < BITS_MIN || bits > BITS_MAX) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "bits must be in %d..%d, got %d", BITS_MIN, BITS_MAX, (int)bits);
    }
    if (range < 0 || range >= RANGE_COUNT) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "range must be 0 (minmax), 1 (percentile) or 2 (mse), got %d", (int)range);
    }
    if (!(percentile >= 90.0f && percentile <= 100.0f)) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "percentile must be in 90..100, got %g", (double)percentile);
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
        scales = lathe_scratch(call, j.channels * sizeof(float));
        zps = lathe_scratch(call, j.channels * sizeof(int32_t));
        if (!scales || !zps) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for per-channel parameters");
    }
    float *tmp = NULL;
    if (range == RANGE_PERCENTILE && j.inner > 0) {
        tmp = lathe_scratch(call, j.inner * sizeof(float));
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
    return lathe_report_qparams(call, &q);
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
    return lathe_register_methods(host, registrar, "uniform", methods, sizeof methods / sizeof methods[0]);
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
