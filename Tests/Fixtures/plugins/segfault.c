/*
 * segfault.c — test fixture, BAD: the quantizer `segfault/crash` writes through a NULL pointer
 * (SIGSEGV) when called. Loading and init are fine.
 *
 * A host that runs untrusted methods in a child process must report the crash as a failure of
 * this method (signal 11) and survive it.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libsegfault.so segfault.c
 */
#include <lathe_plugin.h>
#include <stddef.h>

static int32_t crash(lathe_call *call, const DLTensor *input, DLTensor *output) {
    (void)call;
    (void)input;
    (void)output;
    /* THE DEFECT. Both the pointer and the store are volatile, so at any optimization level the
     * compiler neither proves the pointer NULL (and emits a trap, SIGILL instead of SIGSEGV) nor
     * drops the store. */
    volatile int *volatile target = NULL;
    *target = 42;
    return LATHE_OK;
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "crash", "Crashes (SIGSEGV)", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)crash,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "segfault", "1.0.0", "test fixture: segfaults when called", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
