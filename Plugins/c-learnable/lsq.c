/* learnable: LSQ, one step per tensor (lsq) or per channel along call->axis (lsq-channel).
 * Formulas in learnable.c's method docs. */
#include "learnable_internal.h"

/** The integer range [-qn, qp] of b bits. */
typedef struct range {
    float qn, qp;
    bool is_unsigned;
} range;

static range lsq_range(const lathe_call *call, int32_t bits, int32_t sign) {
    range r;
    r.is_unsigned = resolve_unsigned(call, sign);
    r.qn = r.is_unsigned ? 0.0f : (float)(1 << (bits - 1));
    r.qp = r.is_unsigned ? (float)((1 << bits) - 1) : (float)((1 << (bits - 1)) - 1);
    return r;
}

static const char *const NAME[2] = {"lsq", "lsq-channel"};

/** Initialiser: s_c = 2 mean|x_c| / sqrt(Qp) over the elements of each channel (1 when that is 0,
 *  at least STEP_MIN). */
static int32_t init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign, bool per_channel) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_bits_sign(call, bits, sign)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, NAME[per_channel], 1, false, true)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, NULL, NULL, per_channel, &l)) != LATHE_OK) return status;
    float *s;
    if ((status = lathe_learnable_data(call, 0, "step", l.channels, NULL, &s)) != LATHE_OK) return status;
    range r = lsq_range(call, bits, sign);
    size_t per = l.outer * l.inner;
    for (size_t c = 0; c < l.channels; c++) {
        double sum = 0;
        for (size_t o = 0; o < l.outer; o++) {
            const float *x = l.x + (o * l.channels + c) * l.inner;
            for (size_t i = 0; i < l.inner; i++) sum += fabs((double)x[i]);
        }
        if (!isfinite(sum))
            return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: the input holds NaN or infinity (channel %zu)", NAME[per_channel], c);
        double step = per > 0 ? 2.0 * (sum / (double)per) / sqrt((double)r.qp) : 0.0;
        s[c] = step > 0 ? fmaxf((float)step, STEP_MIN) : 1.0f;
    }
    return LATHE_OK;
}

/** Forward: round(clip(x / s_c, -Qn, Qp)) * s_c. */
static int32_t forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t sign, bool per_channel) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_bits_sign(call, bits, sign)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, NAME[per_channel], 1, true, false)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, output, NULL, per_channel, &l)) != LATHE_OK) return status;
    const float *s_in;
    if ((status = lathe_learnable_data(call, 0, "step", l.channels, &s_in, NULL)) != LATHE_OK) return status;
    float one;
    float *scales = l.channels == 1 ? &one : scratch_floats(call, l.channels, &status);
    if (scales == NULL) return status;
    range r = lsq_range(call, bits, sign);
    const float lo = -r.qn, hi = r.qp;
    for (size_t c = 0; c < l.channels; c++) {
        if (!isfinite(s_in[c]))
            return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: step %zu is not finite (%g)", NAME[per_channel], c, (double)s_in[c]);
        scales[c] = s_in[c] > STEP_MIN ? s_in[c] : STEP_MIN;
    }
    for (size_t o = 0; o < l.outer; o++)
        for (size_t c = 0; c < l.channels; c++) {
            const float s = scales[c];
            const size_t base = (o * l.channels + c) * l.inner;
            const float *restrict x = l.x + base;
            float *restrict y = l.y + base;
            for (size_t i = 0; i < l.inner; i++) {
                float v = x[i] / s;
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                y[i] = round_even(v) * s;
            }
        }
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), r.is_unsigned ? LATHE_QSCHEME_AFFINE : LATHE_QSCHEME_SYMMETRIC, bits,
                       l.axis, (int32_t)lo, (int32_t)hi, (uint32_t)l.channels, scales, NULL, NULL, 0, 0,
                       LATHE_ELEMENT_INT, LATHE_SCALE_FP32};
    return lathe_report_qparams(call, &q);
}

/** Elements per float partial sum before it is added to the double total (keeps the float
 *  rounding of a gradient sum below about 1e-5 relative). */
enum { BLOCK = 2048, LANES = 8 };

/** One element of the backward: writes dx, returns the step-gradient term dy * d. Arithmetic
 *  masks instead of branches or selects, so the loops around it vectorize: c = clip(v, lo, hi);
 *  inside, d = round(c) - c (= round(v) - v), outside d = c (= lo or hi). */
static inline float element(float x, float dy, float *dx, float s, float lo, float hi) {
    const float v = x / s;
    const float c = v < lo ? lo : (v > hi ? hi : v);
    const float in = ((v > lo) & (v < hi)) ? 1.0f : 0.0f;
    *dx = in * dy;
    return (in * (round_even(c) - c) + (1.0f - in) * c) * dy;
}

/** One run of the backward: dx for n elements and the (unscaled) step gradient sum. Eight float
 *  lanes per block (fixed order: deterministic), so the loop vectorizes. */
static double backward_run(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n, float s, float lo,
                           float hi) {
    double total = 0;
    for (size_t start = 0; start < n; start += BLOCK) {
        const size_t end = n - start > BLOCK ? start + BLOCK : n;
        float acc[LANES] = {0};
        size_t i = start;
        for (; i + LANES <= end; i += LANES)
            for (size_t k = 0; k < LANES; k++) acc[k] += element(x[i + k], dy[i + k], &dx[i + k], s, lo, hi);
        for (; i < end; i++) acc[0] += element(x[i], dy[i], &dx[i], s, lo, hi);
        total += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }
    return total;
}

/** Backward: dx = dy inside (-Qn < x/s < Qp), 0 outside; ds_c = g * sum over the channel of
 *  dy * (round(x/s) - x/s) inside, -Qn below, Qp above; g = 1 / sqrt(N * Qp). */
static int32_t backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input,
                        int32_t bits, int32_t sign, bool per_channel) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    int32_t status;
    if ((status = check_bits_sign(call, bits, sign)) != LATHE_OK) return status;
    if (grad_output == NULL) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "grad_output must be non-NULL");
    if ((status = lathe_require_learnables(call, NAME[per_channel], 1, true, true)) != LATHE_OK) return status;
    layout l;
    if ((status = prepare_layout(call, input, grad_input, grad_output, per_channel, &l)) != LATHE_OK) return status;
    const float *s_in;
    float *ds;
    if ((status = lathe_learnable_data(call, 0, "step", l.channels, &s_in, NULL)) != LATHE_OK) return status;
    if ((status = lathe_learnable_data(call, 0, "step", l.channels, NULL, &ds)) != LATHE_OK) return status;
    range r = lsq_range(call, bits, sign);
    const float lo = -r.qn, hi = r.qp;
    /* N: elements per step; for activations per sample (the paper's "features of the layer"). */
    size_t n = l.outer * l.inner;
    if (lathe_call_role(call) == LATHE_ROLE_ACTIVATION && l.batch > 1 && n % l.batch == 0) n /= l.batch;
    const double g = 1.0 / sqrt((double)(n > 0 ? n : 1) * (double)r.qp);
    for (size_t c = 0; c < l.channels; c++) {
        if (!isfinite(s_in[c]))
            return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: step %zu is not finite (%g)", NAME[per_channel], c, (double)s_in[c]);
        const float s = s_in[c] > STEP_MIN ? s_in[c] : STEP_MIN;
        double sum = 0;
        for (size_t o = 0; o < l.outer; o++) {
            const size_t base = (o * l.channels + c) * l.inner;
            sum += backward_run(l.x + base, l.dy + base, l.y + base, l.inner, s, lo, hi);
        }
        ds[c] = (float)(sum * g);
    }
    return LATHE_OK;
}

int32_t lsq_init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign) {
    return init(call, input, bits, sign, false);
}
int32_t lsq_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t sign) {
    return forward(call, input, output, bits, sign, false);
}
int32_t lsq_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input, int32_t bits,
                     int32_t sign) {
    return backward(call, input, grad_output, grad_input, bits, sign, false);
}
int32_t lsq_channel_init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign) {
    return init(call, input, bits, sign, true);
}
int32_t lsq_channel_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t sign) {
    return forward(call, input, output, bits, sign, true);
}
int32_t lsq_channel_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input,
                             int32_t bits, int32_t sign) {
    return backward(call, input, grad_output, grad_input, bits, sign, true);
}
