/*
 * default_out_of_range.c — test fixture, BAD: a hyperparameter whose default lies outside its
 * own [min, max]: `bits` (I32) with default 32 and range 2..16.
 *
 * The registrar must refuse the method (LATHE_INVALID_ARGUMENT, reason logged); init ignores
 * the status and returns LATHE_OK, so the host's own check is what gets tested.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libdefault_out_of_range.so default_out_of_range.c
 */
#include <lathe_plugin.h>

/** Never called by a correct host. */
static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits) {
    (void)input;
    (void)output;
    (void)bits;
    call->host->report_error(call, "default_out_of_range/out_of_range must never be called");
    return LATHE_ERROR;
}

static const lathe_param params[] = {
    /* THE DEFECT: default 32 is not in [2, 16]. */
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width", 32, 2, 16, NULL, 0},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "out_of_range", "Default out of range", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, params, 1, (lathe_function)quantize,
    };
    (void)registrar->register_method(registrar, &method);
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "default_out_of_range", "1.0.0", "test fixture: default outside its range", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
