/*
 * learn_scale.c — test fixture, GOOD (ABI 1.1): two quantizers with learnables.
 *
 * `learn_scale/lsq`: a learned-step quantizer in the manner of LSQ (Esser et al., ICLR 2020)
 *   with one SCALAR learnable `s` (the step). bits I32 (default 4, range 2..8),
 *   Qp = 2^(bits-1) - 1, Qn = 2^(bits-1); q(x) = s * clamp(round(x / s), -Qn, Qp).
 *   init_learnables: s = 2 mean|x| / sqrt(Qp) (1 when that is 0 or not finite).
 *   backward (the straight-through estimator): dx = g inside the range, 0 outside;
 *   ds = gs * sum g * (round(x/s) - x/s inside, -Qn below, Qp above), gs = 1 / sqrt(N Qp).
 *   Reports SYMMETRIC, bits, [-Qn, Qp], scale s.
 * `learn_scale/gain`: a smooth one with a PER_CHANNEL learnable `a` on call->axis:
 *   y = a[c] x; init a = 1; backward dx = a[c] g, da[c] = sum over the channel of g x.
 *   Reports SYMMETRIC, 16 bits, scale 1.
 * Both are deterministic and thread-safe. Rounding is to nearest, ties to even, by adding and
 * subtracting 1.5 * 2^23 (float) or 1.5 * 2^52 (double) to a value already clamped to the range:
 * exact there, and a loop the compiler vectorizes (the benchmark times the host, not libm).
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o liblearn_scale.so learn_scale.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>
#include <string.h>

static int64_t count(const DLTensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static int32_t report(lathe_call *call, int32_t bits, int32_t qmin, int32_t qmax, const float *scale) {
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = LATHE_QSCHEME_SYMMETRIC;
    q.bits = bits;
    q.axis = -1;
    q.qmin = qmin;
    q.qmax = qmax;
    q.count = 1;
    q.scales = scale;
    return call->host->report_qparams(call, &q);
}

/* ---- lsq ---- */

static int32_t lsq_init(lathe_call *call, const DLTensor *input, int32_t bits) {
    const float *x = (const float *)input->data;
    int64_t n = count(input);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += fabs((double)x[i]);
    double qp = (double)((1 << (bits - 1)) - 1);
    double s = n > 0 ? 2.0 * (sum / (double)n) / sqrt(qp) : 0;
    if (!(s >= 1e-12) || !isfinite(s) || s > 1e30) s = s > 1e30 ? 1e30 : 1;
    *(float *)call->learnable_outputs[0]->data = (float)s;
    return LATHE_OK;
}

static int32_t lsq(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits) {
    const float s = *(const float *)call->learnables[0]->data;
    const float qp = (float)((1 << (bits - 1)) - 1), qn = (float)(1 << (bits - 1));
    const float *x = (const float *)input->data;
    float *y = (float *)output->data;
    int64_t n = count(input);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s;
        v = v < -qn ? -qn : v;
        v = v > qp ? qp : v;
        y[i] = ((v + 12582912.0f) - 12582912.0f) * s;
    }
    return report(call, bits, -(int32_t)qn, (int32_t)qp, &s);
}

static int32_t lsq_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input,
                            int32_t bits) {
    const float s = *(const float *)call->learnables[0]->data;
    const double qp = (double)((1 << (bits - 1)) - 1), qn = (double)(1 << (bits - 1));
    const float *x = (const float *)input->data, *g = (const float *)grad_output->data;
    float *dx = (float *)grad_input->data;
    int64_t n = count(input);
    double ds = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)x[i] / (double)s;
        if (v <= -qn) {
            dx[i] = 0;
            ds += (double)g[i] * -qn;
        } else if (v >= qp) {
            dx[i] = 0;
            ds += (double)g[i] * qp;
        } else {
            dx[i] = g[i];
            ds += (double)g[i] * (((v + 6755399441055744.0) - 6755399441055744.0) - v);
        }
    }
    *(float *)call->learnable_outputs[0]->data = (float)(ds / sqrt((double)(n > 0 ? n : 1) * qp));
    return LATHE_OK;
}

/* ---- gain ---- */

/* Channel extent and inner stride of call->axis (1 channel when the axis is -1). */
static void channels(const lathe_call *call, const DLTensor *t, int64_t *extent, int64_t *inner) {
    *extent = 1;
    *inner = count(t);
    if (call->axis >= 0 && call->axis < t->ndim) {
        *extent = t->shape[call->axis];
        *inner = 1;
        for (int d = call->axis + 1; d < t->ndim; d++) *inner *= t->shape[d];
    }
    if (*inner == 0) *inner = 1;
}

static int32_t gain_init(lathe_call *call, const DLTensor *input) {
    DLTensor *a = call->learnable_outputs[0];
    int64_t c = count(a);
    for (int64_t i = 0; i < c; i++) ((float *)a->data)[i] = 1;
    (void)input;
    return LATHE_OK;
}

static int32_t gain(lathe_call *call, const DLTensor *input, DLTensor *output) {
    const float *a = (const float *)call->learnables[0]->data;
    const float *x = (const float *)input->data;
    float *y = (float *)output->data;
    int64_t n = count(input), extent, inner;
    channels(call, input, &extent, &inner);
    for (int64_t i = 0; i < n; i++) y[i] = a[(i / inner) % extent] * x[i];
    static const float one = 1;
    return report(call, 16, -32767, 32767, &one);
}

static int32_t gain_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output, DLTensor *grad_input) {
    const float *a = (const float *)call->learnables[0]->data;
    float *da = (float *)call->learnable_outputs[0]->data;
    const float *x = (const float *)input->data, *g = (const float *)grad_output->data;
    float *dx = (float *)grad_input->data;
    int64_t n = count(input), extent, inner;
    channels(call, input, &extent, &inner);
    for (int64_t c = 0; c < extent; c++) da[c] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / inner) % extent;
        dx[i] = a[c] * g[i];
        da[c] += g[i] * x[i];
    }
    return LATHE_OK;
}

static const lathe_param bits_param[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width", 4, 2, 8, NULL, 0},
};
static const lathe_learnable step[] = {
    {LATHE_HEAD(lathe_learnable), "s", LATHE_SHAPE_SCALAR, NULL, "the step size"},
};
static const lathe_learnable gains[] = {
    {LATHE_HEAD(lathe_learnable), "a", LATHE_SHAPE_PER_CHANNEL, NULL, "one gain per channel"},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "lsq", "Learned step (test fixture)", "q = s clamp(round(x/s), -Qn, Qp)", NULL,
         LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
         bits_param, 1, (lathe_function)lsq, step, 1, (lathe_function)lsq_init, (lathe_function)lsq_backward},
        {LATHE_HEAD(lathe_method), "gain", "Per-channel gain (test fixture)", "y = a[c] x", NULL,
         LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
         NULL, 0, (lathe_function)gain, gains, 1, (lathe_function)gain_init, (lathe_function)gain_backward},
    };
    for (int i = 0; i < 2; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) return status;
    }
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "learn_scale", "1.0.0", "test fixture: learnable quantizers", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
