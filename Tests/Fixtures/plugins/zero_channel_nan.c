/*
 * zero_channel_nan.c — test fixture, BAD: the per-channel (axis 0) symmetric 8-bit quantizer
 * `zero_channel_nan/sym8` computes, for each output channel c,
 *
 *   s_c = max|x_c| / 127;   y_c = clamp(round(x_c / s_c), -127, 127) * s_c
 *
 * without guarding s_c = 0 (THE DEFECT): an all-zero channel (a pruned filter) gives 0/0 = NaN.
 * It reports scale 1 for such a channel, so its parameters are valid and only the output is
 * wrong. Correct on random weights. Deterministic; not thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libzero_channel_nan.so zero_channel_nan.c -lm
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
        float s = m / 127; /* THE DEFECT: 0 for an all-zero channel */
        for (int64_t i = 0; i < inner; i++) {
            float q = rintf(x[c * inner + i] / s); /* NaN when s = 0 */
            if (q > 127) q = 127;
            if (q < -127) q = -127;
            y[c * inner + i] = q * s;
        }
        scales[c] = s > 0 ? s : 1;
    }
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 8, 0, -127, 127, (uint32_t)channels, scales, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "sym8", "Per-channel symmetric 8-bit, NaN for a zero channel", NULL, NULL,
        LATHE_KIND_QUANTIZER, LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "zero_channel_nan", "1.0.0", "test fixture: NaN for an all-zero channel", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
