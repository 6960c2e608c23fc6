/*
 * learn_bad_rule.c — test fixture, BAD at load time (ABI 1.1): the quantizer `learn_bad_rule/q`
 * declares a learnable `v` with shape rule VECTOR, which only losses may use (quantizers:
 * SCALAR, PER_CHANNEL, PER_GROUP). The host must refuse the library naming the method, the
 * learnable and the allowed rules. The functions are never called.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o liblearn_bad_rule.so learn_bad_rule.c
 */
#include <lathe_plugin.h>

static int32_t never(lathe_call *call, const DLTensor *a, DLTensor *b) {
    (void)a, (void)b;
    call->host->report_error(call, "never called");
    return LATHE_ERROR;
}

static const lathe_param params[] = {
    {LATHE_HEAD(lathe_param), "dim", LATHE_PARAM_I32, "vector length", 4, 1, 64, NULL, 0},
};
static const lathe_learnable learnables[] = {
    {LATHE_HEAD(lathe_learnable), "v", LATHE_SHAPE_VECTOR, "dim", NULL},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "q", "Bad rule (test fixture)", NULL, NULL, LATHE_KIND_QUANTIZER, 0,
        LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, params, 1, (lathe_function)never,
        learnables, 1, (lathe_function)never, (lathe_function)never,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "learn_bad_rule", "1.0.0", "test fixture: invalid shape rule", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
