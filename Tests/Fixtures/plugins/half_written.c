/*
 * half_written.c — test fixture, BAD: the quantizer `half_written/sym8` (per-tensor symmetric
 * 8 bits, s = max|x| / 127) writes only the first half of its output and reports valid
 * parameters.
 *
 *   y[i] = clamp(round(x[i] / s), -127, 127) * s   for i < n/2
 *   y[i] untouched                                 for i >= n/2   THE DEFECT
 *
 * The untouched half holds whatever the memory held: often finite garbage, so without the host's
 * output canary a caller would take it for a result. Deterministic and thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libhalf_written.so half_written.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    const float *x = input->data;
    float *y = output->data;
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    float s = m > 0 ? m / 127 : 1;
    for (int64_t i = 0; i < n / 2; i++) y[i] = fminf(fmaxf(rintf(x[i] / s), -127), 127) * s; /* THE DEFECT: n / 2 */
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, -1, -127, 127, 1, &s, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "sym8", "Symmetric 8-bit, half written", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "half_written", "1.0.0", "test fixture: half of the output unwritten", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
