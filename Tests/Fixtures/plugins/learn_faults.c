/*
 * learn_faults.c — test fixture, BAD at call time (ABI 1.1): quantizers with one SCALAR
 * learnable `s` (init 1; forward y = s round(x / s)) whose other entries misbehave. The host must
 * turn each into an error naming the method, with nothing returned as a result.
 *   nan_grad    backward writes NaN into the gradient of `s`.
 *   unwritten   backward leaves grad_input unwritten (writes only the gradient of `s`).
 *   huge_state  forward asks host->state for LATHE_STATE_MAX_BYTES + 1 bytes, fails on NULL.
 *   resize      forward asks host->state for 64 bytes more on each call (the size is fixed by
 *               the first request, so the second call gets NULL), fails on NULL.
 *   wrong_gain  smooth y = s x with backward dx = s g but ds = 2 sum g x (twice the truth):
 *               runs, but `lathe plugins check` finds it by finite differences.
 *   squared     forward as the first ones, backward dx = g * |g| (not linear in g): found by
 *               the backward linearity check.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o liblearn_faults.so learn_faults.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>
#include <string.h>

static int64_t count(const DLTensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static int32_t init_s(lathe_call *call, const DLTensor *input) {
    (void)input;
    *(float *)call->learnable_outputs[0]->data = 1;
    return LATHE_OK;
}

static int32_t forward(lathe_call *call, const DLTensor *input, DLTensor *output) {
    const float s = *(const float *)call->learnables[0]->data;
    const float *x = (const float *)input->data;
    float *y = (float *)output->data;
    for (int64_t i = 0; i < count(input); i++) y[i] = s * nearbyintf(x[i] / s);
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = LATHE_QSCHEME_SYMMETRIC;
    q.bits = 16;
    q.axis = -1;
    q.qmin = -32767;
    q.qmax = 32767;
    q.count = 1;
    q.scales = &s;
    return call->host->report_qparams(call, &q);
}

static void pass_through(const DLTensor *input, const DLTensor *g, DLTensor *dx) {
    memcpy(dx->data, g->data, (size_t)count(input) * sizeof(float));
}

static int32_t nan_backward(lathe_call *call, const DLTensor *input, const DLTensor *g, DLTensor *dx) {
    pass_through(input, g, dx);
    *(float *)call->learnable_outputs[0]->data = NAN;
    return LATHE_OK;
}

static int32_t unwritten_backward(lathe_call *call, const DLTensor *input, const DLTensor *g, DLTensor *dx) {
    (void)input, (void)g, (void)dx;
    *(float *)call->learnable_outputs[0]->data = 0.5f;
    return LATHE_OK;
}

static int32_t good_backward(lathe_call *call, const DLTensor *input, const DLTensor *g, DLTensor *dx) {
    pass_through(input, g, dx);
    *(float *)call->learnable_outputs[0]->data = 0.5f;
    return LATHE_OK;
}

static int32_t gain(lathe_call *call, const DLTensor *input, DLTensor *output) {
    const float s = *(const float *)call->learnables[0]->data;
    const float *x = (const float *)input->data;
    float *y = (float *)output->data;
    for (int64_t i = 0; i < count(input); i++) y[i] = s * x[i];
    static const float one = 1;
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = LATHE_QSCHEME_SYMMETRIC;
    q.bits = 16;
    q.axis = -1;
    q.qmin = -32767;
    q.qmax = 32767;
    q.count = 1;
    q.scales = &one;
    return call->host->report_qparams(call, &q);
}

static int32_t wrong_gain_backward(lathe_call *call, const DLTensor *input, const DLTensor *g, DLTensor *dx) {
    const float s = *(const float *)call->learnables[0]->data;
    const float *x = (const float *)input->data, *gv = (const float *)g->data;
    double ds = 0;
    for (int64_t i = 0; i < count(input); i++) {
        ((float *)dx->data)[i] = s * gv[i];
        ds += 2.0 * (double)gv[i] * (double)x[i];
    }
    *(float *)call->learnable_outputs[0]->data = (float)ds;
    return LATHE_OK;
}

static int32_t squared_backward(lathe_call *call, const DLTensor *input, const DLTensor *g, DLTensor *dx) {
    const float *gv = (const float *)g->data;
    double ds = 0;
    for (int64_t i = 0; i < count(input); i++) {
        ((float *)dx->data)[i] = gv[i] * fabsf(gv[i]);
        ds += gv[i];
    }
    *(float *)call->learnable_outputs[0]->data = (float)ds;
    return LATHE_OK;
}

static int32_t with_state(lathe_call *call, const DLTensor *input, DLTensor *output, size_t bytes) {
    if (!LATHE_HAS_FIELD(call->host, lathe_host, state) || call->host->state(call, bytes) == NULL) {
        call->host->report_error(call, "no state buffer");
        return LATHE_NO_MEMORY;
    }
    return forward(call, input, output);
}

static int32_t huge_state(lathe_call *call, const DLTensor *input, DLTensor *output) {
    return with_state(call, input, output, LATHE_STATE_MAX_BYTES + 1);
}

static int32_t resize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    static _Atomic long calls = 0;
    return with_state(call, input, output, (size_t)64 * (size_t)(1 + calls++));
}

static const lathe_learnable step[] = {
    {LATHE_HEAD(lathe_learnable), "s", LATHE_SHAPE_SCALAR, NULL, "the step"},
};

#define METHOD(id, fn, backward)                                                                          \
    {LATHE_HEAD(lathe_method), id, id " (test fixture)", NULL, NULL, LATHE_KIND_QUANTIZER, 0,              \
     LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)fn, step, 1, (lathe_function)init_s, \
     (lathe_function)backward}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method methods[] = {
        METHOD("nan_grad", forward, nan_backward),
        METHOD("unwritten", forward, unwritten_backward),
        METHOD("huge_state", huge_state, good_backward),
        METHOD("resize", resize, good_backward),
        METHOD("wrong_gain", gain, wrong_gain_backward),
        METHOD("squared", forward, squared_backward),
    };
    for (int i = 0; i < 6; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) return status;
    }
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "learn_faults", "1.0.0", "test fixture: faulty learnable quantizers", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
