/*
 * ignored_param.c — test fixture, SUSPECT (a warning, not a failure): the quantizer
 * `ignored_param/sym` declares `bits` (I32, default 8, range 2..8) but always quantizes to
 * 8 bits (THE DEFECT: the argument is never read):
 *
 *   s = max|x| / 127;   y = clamp(round(x / s), -127, 127) * s;   reports 8 bits
 *
 * Otherwise correct, deterministic and thread-safe: every check passes, and the checker warns
 * that `bits` changes nothing.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libignored_param.so ignored_param.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits) {
    (void)bits; /* THE DEFECT */
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    const float *x = input->data;
    float *y = output->data;
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    float s = m > 0 ? m / 127 : 1;
    for (int64_t i = 0; i < n; i++) y[i] = fminf(fmaxf(rintf(x[i] / s), -127), 127) * s;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, -1, -127, 127, 1, &s, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static const lathe_param params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width (ignored)", 8, 2, 8, NULL, 0},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "sym", "Symmetric, bits ignored", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        params, 1, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "ignored_param", "1.0.0", "test fixture: a hyperparameter never read", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
