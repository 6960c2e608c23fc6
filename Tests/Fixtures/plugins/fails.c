/*
 * fails.c — test fixture: the quantizer `fails/fails` always fails cleanly: it calls
 * report_error("deliberate failure: fails/fails always fails") once and returns LATHE_ERROR.
 *
 * For testing that the host surfaces a plugin's error message and status.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libfails.so fails.c
 */
#include <lathe_plugin.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    (void)input;
    (void)output;
    call->host->report_error(call, "deliberate failure: fails/fails always fails");
    return LATHE_ERROR;
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "fails", "Always fails", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "fails", "1.0.0", "test fixture: reports an error", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
