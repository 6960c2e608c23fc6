/*
 * static_scratch.c — test fixture, BAD: the quantizer `static_scratch/sym8` (per-tensor
 * symmetric 8 bits, s = max|x| / 127) declares LATHE_FLAG_THREAD_SAFE but stages its input in
 * one static buffer (THE DEFECT):
 *
 *   scratch = x;   s = max|scratch| / 127;   y = clamp(round(scratch / s), -127, 127) * s
 *
 * Called from one thread at a time it is correct and deterministic. Called concurrently with
 * different inputs, one call reads another's values from the buffer. No sleeps: the race is
 * only as wide as the work. Inputs above 2^20 elements are refused.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libstatic_scratch.so static_scratch.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>

enum { CAPACITY = 1 << 20 };

/* THE DEFECT: shared by every call. volatile keeps the compiler from reading x instead. */
static volatile float scratch[CAPACITY];

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    if (n > CAPACITY) {
        call->host->report_error(call, "more than 2^20 elements");
        return LATHE_UNSUPPORTED;
    }
    const float *x = input->data;
    float *y = output->data;
    for (int64_t i = 0; i < n; i++) scratch[i] = x[i];
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(scratch[i]));
    float s = m > 0 ? m / 127 : 1;
    for (int64_t i = 0; i < n; i++) y[i] = fminf(fmaxf(rintf(scratch[i] / s), -127), 127) * s;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, -1, -127, 127, 1, &s, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "sym8", "Symmetric 8-bit through a static buffer", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE /* a lie */ | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "static_scratch", "1.0.0", "test fixture: static scratch buffer", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
