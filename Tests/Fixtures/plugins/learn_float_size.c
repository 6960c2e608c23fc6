/*
 * learn_float_size.c — test fixture, BAD at load time (ABI 1.1): the quantizer `learn_float_size/q`
 * declares a PER_GROUP learnable `v` whose size_param names `dim`, an F32
 * hyperparameter (a size parameter must be I32 or I64). The host must refuse the library naming
 * the method, the learnable and the parameter. The functions are never called.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o liblearn_float_size.so learn_float_size.c
 */
#include <lathe_plugin.h>

static int32_t never(lathe_call *call, const DLTensor *a, DLTensor *b) {
    (void)a, (void)b;
    call->host->report_error(call, "never called");
    return LATHE_ERROR;
}

static const lathe_param params[] = {
    {LATHE_HEAD(lathe_param), "dim", LATHE_PARAM_F32, "group size as a float", 4, 1, 64, NULL, 0},
};
static const lathe_learnable learnables[] = {
    {LATHE_HEAD(lathe_learnable), "v", LATHE_SHAPE_PER_GROUP, "dim", NULL},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "q", "Float size parameter (test fixture)", NULL, NULL, LATHE_KIND_QUANTIZER, 0,
        LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, params, 1, (lathe_function)never,
        learnables, 1, (lathe_function)never, (lathe_function)never,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "learn_float_size", "1.0.0", "test fixture: float size_param", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
