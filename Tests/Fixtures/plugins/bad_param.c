/*
 * bad_param.c — test fixture, BAD: a method whose hyperparameter has type 9, which is not a
 * lathe_param_type (they are 1..6).
 *
 * The host cannot build a libffi signature for it; the registrar must refuse the method
 * (LATHE_INVALID_ARGUMENT, reason logged). init ignores the status and returns LATHE_OK, so the
 * host's own check is what gets tested.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libbad_param.so bad_param.c
 */
#include <lathe_plugin.h>

/** Never called by a correct host. */
static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t mystery) {
    (void)input;
    (void)output;
    (void)mystery;
    call->host->report_error(call, "bad_param/bad must never be called");
    return LATHE_ERROR;
}

static const lathe_param params[] = {
    /* THE DEFECT: type 9. */
    {LATHE_HEAD(lathe_param), "mystery", 9, "a parameter of an unknown type", 0, 0, 1, NULL, 0},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "bad", "Bad parameter type", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, params, 1, (lathe_function)quantize,
    };
    (void)registrar->register_method(registrar, &method);
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "bad_param", "1.0.0", "test fixture: unknown parameter type", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
