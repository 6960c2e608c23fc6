/*
 * refused_qparams.c — test fixture, BAD: the quantizer `refused_qparams/sym8` quantizes per
 * channel (axis 0, s_c = max|x_c| / 127, 1 for an all-zero channel) correctly but reports the
 * parameters with axis 0 and count 1 (THE DEFECT: one scale where the axis has shape[0]). The
 * host refuses them; the fixture passes the refusal's status on without report_error, so only
 * the host knows the reason, and must say it. Deterministic; not thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o librefused_qparams.so refused_qparams.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    if (input->ndim < 1) {
        call->host->report_error(call, "needs a channel dimension");
        return LATHE_INVALID_ARGUMENT;
    }
    int64_t channels = input->shape[0], inner = 1;
    for (int d = 1; d < input->ndim; d++) inner *= input->shape[d];
    float *scales = call->host->scratch(call, (size_t)(channels > 0 ? channels : 1) * sizeof(float));
    if (!scales) {
        call->host->report_error(call, "out of scratch memory");
        return LATHE_NO_MEMORY;
    }
    const float *x = input->data;
    float *y = output->data;
    for (int64_t c = 0; c < channels; c++) {
        float m = 0;
        for (int64_t i = 0; i < inner; i++) m = fmaxf(m, fabsf(x[c * inner + i]));
        float s = m > 0 ? m / 127 : 1;
        for (int64_t i = 0; i < inner; i++) y[c * inner + i] = fminf(fmaxf(rintf(x[c * inner + i] / s), -127), 127) * s;
        scales[c] = s;
    }
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, 0, -127, 127, 1 /* THE DEFECT */, scales, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "sym8", "Per-channel symmetric 8-bit, one scale reported", NULL, NULL,
        LATHE_KIND_QUANTIZER, LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "refused_qparams", "1.0.0", "test fixture: qparams the host refuses", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
