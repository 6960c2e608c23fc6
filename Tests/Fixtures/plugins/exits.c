/*
 * exits.c — test fixture, BAD: the quantizer `exits/exit` calls exit(0) when called, ending the
 * whole process with status 0 before returning. Loading and init are fine.
 *
 * A host must count that as a failure of the method (the call never returned, no result was
 * produced), never as a pass because the status was 0.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libexits.so exits.c
 */
#include <lathe_plugin.h>
#include <stdlib.h>

static int32_t quit(lathe_call *call, const DLTensor *input, DLTensor *output) {
    (void)call;
    (void)input;
    (void)output;
    exit(0); /* THE DEFECT */
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "exit", "Exits the process", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)quit,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "exits", "1.0.0", "test fixture: calls exit(0) in its method", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
