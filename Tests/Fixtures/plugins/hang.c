/*
 * hang.c — test fixture, BAD: the quantizer `hang/hang` never returns. It sleeps in pause()
 * forever (no CPU burnt; a handled signal only wakes it to pause again). Loading and init are
 * fine.
 *
 * A host with a per-call time limit must give up on it (and kill the worker process).
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libhang.so hang.c
 */
#define _POSIX_C_SOURCE 200809L
#include <lathe_plugin.h>
#include <unistd.h>

static int32_t quantize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    (void)call;
    (void)input;
    (void)output;
    for (;;) pause(); /* THE DEFECT */
    return LATHE_ERROR; /* not reached */
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "hang", "Never returns", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)quantize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "hang", "1.0.0", "test fixture: hangs when called", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
