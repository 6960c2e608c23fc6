/* learnable: LSQ+, a learned step and offset on an unsigned grid (formulas in learnable.c). */
#include "learnable_internal.h"

static const char *const NAME = "lsq-plus";

/** Initialiser (min/max, Bhalgat et al. §3.2): s = (max - min) / (2^b - 1), beta = min
 *  (s = 1 when the range is empty). */
int32_t lsq_plus_init(lathe_call *call, const DLTensor *input, int32_t bits) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_bits_sign(call, bits, SIGN_UNSIGNED)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, NAME, 2, false, true)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, NULL, NULL, false, &l)) != LATHE_OK) return status;
    float *s, *beta;
    if ((status = lathe_learnable_data(call, 0, "step", 1, NULL, &s)) != LATHE_OK) return status;
    if ((status = lathe_learnable_data(call, 1, "offset", 1, NULL, &beta)) != LATHE_OK) return status;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < l.count; i++) {
        if (!isfinite(l.x[i])) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: input element %zu is not finite", NAME, i);
        lo = l.x[i] < lo ? l.x[i] : lo;
        hi = l.x[i] > hi ? l.x[i] : hi;
    }
    if (l.count == 0) lo = hi = 0.0f;
    float step = (float)(((double)hi - (double)lo) / (double)((1 << bits) - 1));
    *s = step > 0 ? fmaxf(step, STEP_MIN) : 1.0f;
    *beta = lo;
    return LATHE_OK;
}

/** Reads and checks the two learnables. */
static int32_t learnables(lathe_call *call, float *s, float *beta) {
    const float *sp, *bp;
    int32_t status;
    if ((status = lathe_learnable_data(call, 0, "step", 1, &sp, NULL)) != LATHE_OK) return status;
    if ((status = lathe_learnable_data(call, 1, "offset", 1, &bp, NULL)) != LATHE_OK) return status;
    if (!isfinite(*sp) || !isfinite(*bp))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: step %g and offset %g must be finite", NAME, (double)*sp, (double)*bp);
    *s = *sp > STEP_MIN ? *sp : STEP_MIN;
    *beta = *bp;
    return LATHE_OK;
}

/** Forward: round(clip((x - beta) / s, 0, 2^b - 1)) * s + beta. */
int32_t lsq_plus_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_bits_sign(call, bits, SIGN_UNSIGNED)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, NAME, 2, true, false)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, output, NULL, false, &l)) != LATHE_OK) return status;
    float s, beta;
    if ((status = learnables(call, &s, &beta)) != LATHE_OK) return status;
    const float hi = (float)((1 << bits) - 1);
    const float *restrict x = l.x;
    float *restrict y = l.y;
    for (size_t i = 0; i < l.count; i++) {
        float v = (x[i] - beta) / s;
        v = v < 0.0f ? 0.0f : v;
        v = v > hi ? hi : v;
        y[i] = round_even(v) * s + beta;
    }
    /* The integer zero point closest to the offset; the remainder of beta / s is a constant
     * shift that deployment folds into the next layer's bias (Bhalgat et al. §3). */
    double zp = nearbyint(-(double)beta / (double)s);
    int32_t zero_point = (int32_t)(zp < 0 ? 0 : (zp > hi ? hi : zp));
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_AFFINE, bits, -1, 0, (int32_t)hi, 1, &s, &zero_point,
                       NULL, 0, 0, LATHE_ELEMENT_INT, LATHE_SCALE_FP32};
    return lathe_report_qparams(call, &q);
}

/** Backward: u = (x - beta) / s; inside (0 < u < Qp): dx = dy, ds += dy (round(u) - u);
 *  below: ds += 0, dbeta += dy; above: ds += dy Qp, dbeta += dy; both scaled by
 *  g = 1 / sqrt(N Qp) (N: elements, per sample for activations). */
int32_t lsq_plus_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input,
                          int32_t bits) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_bits_sign(call, bits, SIGN_UNSIGNED)) != LATHE_OK) return status;
    if (grad_output == NULL) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "grad_output must be non-NULL");
    if ((status = lathe_require_learnables(call, NAME, 2, true, true)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, grad_input, grad_output, false, &l)) != LATHE_OK) return status;
    float s, beta, *ds, *dbeta;
    if ((status = learnables(call, &s, &beta)) != LATHE_OK) return status;
    if ((status = lathe_learnable_data(call, 0, "step", 1, NULL, &ds)) != LATHE_OK) return status;
    if ((status = lathe_learnable_data(call, 1, "offset", 1, NULL, &dbeta)) != LATHE_OK) return status;
    const float hi = (float)((1 << bits) - 1);
    size_t n = l.count;
    if (lathe_call_role(call) == LATHE_ROLE_ACTIVATION && l.batch > 1 && n % l.batch == 0) n /= l.batch;
    const double g = 1.0 / sqrt((double)(n > 0 ? n : 1) * (double)hi);
    const float *restrict x = l.x, *restrict dy = l.dy;
    float *restrict dx = l.y;
    double sum_s = 0, sum_b = 0;
    for (size_t i = 0; i < l.count; i++) {
        const float u = (x[i] - beta) / s;
        const bool below = u <= 0.0f, above = u >= hi;
        const float d = below ? 0.0f : (above ? hi : round_even(u) - u);
        dx[i] = below || above ? 0.0f : dy[i];
        sum_s += (double)d * (double)dy[i];
        sum_b += below || above ? (double)dy[i] : 0.0;
    }
    *ds = (float)(sum_s * g);
    *dbeta = (float)(sum_b * g);
    return LATHE_OK;
}
