/*
 * abort.c — test fixture, BAD: the quantizer `abort/abort` calls abort() (SIGABRT) when called.
 * Loading and init are fine.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libabort.so abort.c
 */
#include <lathe_plugin.h>
#include <stdlib.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    (void)call;
    (void)input;
    (void)output;
    abort(); /* THE DEFECT */
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "abort", "Aborts (SIGABRT)", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "abort", "1.0.0", "test fixture: aborts when called", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
