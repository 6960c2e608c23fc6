/* learnable: PACT, a learned clip (formulas in learnable.c). */
#include "learnable_internal.h"

static const char *const NAME = "pact";

/** Grid of the clip alpha: unsigned [0, alpha] with 2^b - 1 steps, or signed [-alpha, alpha]
 *  with 2^(b-1) - 1 steps each side (restricted range). */
typedef struct grid {
    float lo, hi;     /**< clip range */
    float levels;     /**< integer codes on the positive side */
    bool is_unsigned;
} grid;

static grid pact_grid(const lathe_call *call, int32_t bits, int32_t sign, float alpha) {
    grid g;
    g.is_unsigned = resolve_unsigned(call, sign);
    g.levels = g.is_unsigned ? (float)((1 << bits) - 1) : (float)((1 << (bits - 1)) - 1);
    g.hi = alpha;
    g.lo = g.is_unsigned ? 0.0f : -alpha;
    return g;
}

static int32_t check_common(lathe_call *call, int32_t bits, int32_t sign, float init_ratio) {
    int32_t status = check_bits_sign(call, bits, sign);
    if (status != LATHE_OK) return status;
    if (!(init_ratio > 0.0f && init_ratio <= 1.0f))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "init_ratio must be in (0, 1], got %g", (double)init_ratio);
    return LATHE_OK;
}

/** Initialiser: alpha = init_ratio * the first tensor's max (unsigned) or max |x| (signed); 1 when
 *  that is not positive. Relative to the data, so some inputs reach alpha and it gets a gradient
 *  from the start (the paper's fixed alpha = 10 would get none while activations stay below it). */
int32_t pact_init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign, float init_ratio) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_common(call, bits, sign, init_ratio)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, NAME, 1, false, true)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, NULL, NULL, false, &l)) != LATHE_OK) return status;
    float *alpha;
    if ((status = lathe_learnable_data(call, 0, "alpha", 1, NULL, &alpha)) != LATHE_OK) return status;
    float a = 0.0f;
    bool is_unsigned = resolve_unsigned(call, sign);
    for (size_t i = 0; i < l.count; i++) {
        if (!isfinite(l.x[i])) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: input element %zu is not finite", NAME, i);
        float v = is_unsigned ? l.x[i] : fabsf(l.x[i]);
        a = v > a ? v : a;
    }
    a *= init_ratio;
    *alpha = a > 0 ? fmaxf(a, STEP_MIN) : 1.0f;
    return LATHE_OK;
}

static int32_t read_alpha(lathe_call *call, float *alpha) {
    const float *a;
    int32_t status = lathe_learnable_data(call, 0, "alpha", 1, &a, NULL);
    if (status != LATHE_OK) return status;
    if (!isfinite(*a)) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: alpha is not finite (%g)", NAME, (double)*a);
    *alpha = *a > STEP_MIN ? *a : STEP_MIN;
    return LATHE_OK;
}

/** Forward: y = clip(x, lo, alpha); y_q = round(y / d) * d with d = alpha / levels. */
int32_t pact_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t sign, float init_ratio) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_common(call, bits, sign, init_ratio)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, NAME, 1, true, false)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, output, NULL, false, &l)) != LATHE_OK) return status;
    float alpha;
    if ((status = read_alpha(call, &alpha)) != LATHE_OK) return status;
    grid g = pact_grid(call, bits, sign, alpha);
    float step = alpha / g.levels;
    const float *restrict x = l.x;
    float *restrict y = l.y;
    for (size_t i = 0; i < l.count; i++) {
        float v = x[i];
        v = v < g.lo ? g.lo : v;
        v = v > g.hi ? g.hi : v;
        y[i] = round_even(v / step) * step;
    }
    int32_t qmax = (int32_t)g.levels;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), g.is_unsigned ? LATHE_QSCHEME_AFFINE : LATHE_QSCHEME_SYMMETRIC, bits, -1,
                       g.is_unsigned ? 0 : -qmax, qmax, 1, &step, NULL, NULL, 0, 0, LATHE_ELEMENT_INT, LATHE_SCALE_FP32};
    return lathe_report_qparams(call, &q);
}

/** Backward (straight-through): dx = dy where lo <= x < alpha (signed: -alpha < x < alpha), else 0;
 *  dalpha = sum of dy where x >= alpha (signed: minus the sum where x <= -alpha). */
int32_t pact_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input, int32_t bits,
                      int32_t sign, float init_ratio) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_common(call, bits, sign, init_ratio)) != LATHE_OK) return status;
    if (grad_output == NULL) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "grad_output must be non-NULL");
    if ((status = lathe_require_learnables(call, NAME, 1, true, true)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, grad_input, grad_output, false, &l)) != LATHE_OK) return status;
    float alpha, *dalpha;
    if ((status = read_alpha(call, &alpha)) != LATHE_OK) return status;
    if ((status = lathe_learnable_data(call, 0, "alpha", 1, NULL, &dalpha)) != LATHE_OK) return status;
    grid g = pact_grid(call, bits, sign, alpha);
    const float *restrict x = l.x, *restrict dy = l.dy;
    float *restrict dx = l.y;
    double sum = 0;
    if (g.is_unsigned) {
        for (size_t i = 0; i < l.count; i++) {
            const bool above = x[i] >= alpha, inside = x[i] >= 0.0f && !above;
            dx[i] = inside ? dy[i] : 0.0f;
            sum += above ? (double)dy[i] : 0.0;
        }
    } else {
        for (size_t i = 0; i < l.count; i++) {
            const bool above = x[i] >= alpha, below = x[i] <= -alpha;
            dx[i] = above || below ? 0.0f : dy[i];
            sum += above ? (double)dy[i] : (below ? -(double)dy[i] : 0.0);
        }
    }
    *dalpha = (float)sum;
    return LATHE_OK;
}
