/*
 * writes_input.c — test fixture, BAD: the quantizer `writes_input/sym8` (per-tensor symmetric
 * 8 bits, s = max|x| / 127) quantizes its const input in place, then copies it to the output:
 *
 *   x[i] = clamp(round(x[i] / s), -127, 127) * s;   y[i] = x[i]       THE DEFECT: writes x
 *
 * Its output is right, but the caller's tensor changes: in QAT the float master weights are
 * replaced by their quantized values at every step, so training stalls. Deterministic,
 * not thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libwrites_input.so writes_input.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    float *x = input->data; /* const dropped: THE DEFECT */
    float *y = output->data;
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    float s = m > 0 ? m / 127 : 1;
    for (int64_t i = 0; i < n; i++) {
        x[i] = fminf(fmaxf(rintf(x[i] / s), -127), 127) * s;
        y[i] = x[i];
    }
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, -1, -127, 127, 1, &s, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "sym8", "Symmetric 8-bit, in place", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "writes_input", "1.0.0", "test fixture: writes its const input", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
