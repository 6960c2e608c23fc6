/*
 * not_idempotent.c — test fixture, BAD: the quantizer `not_idempotent/halve` outputs input * 0.5.
 * Finite, deterministic and thread-safe, with valid parameters — but q(q(x)) = x / 4 != q(x)
 * (for any x != 0), which a conformance check for idempotence must catch.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libnot_idempotent.so not_idempotent.c
 */
#include <lathe_plugin.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    const float *x = input->data;
    float *y = output->data;
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * 0.5f; /* THE DEFECT */
    static const float scale = 1.0f;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 16, -1, -32767, 32767, 1, &scale, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "halve", "Halves its input", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "not_idempotent", "1.0.0", "test fixture: not idempotent", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
