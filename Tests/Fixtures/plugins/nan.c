/*
 * nan.c — test fixture, BAD: the quantizer `nan/nan` returns LATHE_OK with every output element
 * NaN, and reports perfectly valid parameters (SYMMETRIC, 8 bits, per-tensor, scale 1).
 *
 * The header says a call that returns LATHE_OK with a non-finite output is a failure: the host
 * must detect it.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libnan.so nan.c
 */
#include <lathe_plugin.h>
#include <math.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    (void)input;
    int64_t n = 1;
    for (int d = 0; d < output->ndim; d++) n *= output->shape[d];
    float *y = output->data;
    for (int64_t i = 0; i < n; i++) y[i] = NAN; /* THE DEFECT */
    static const float scale = 1.0f;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, -1, -127, 127, 1, &scale, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "nan", "Outputs NaN", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "nan", "1.0.0", "test fixture: NaN output", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
