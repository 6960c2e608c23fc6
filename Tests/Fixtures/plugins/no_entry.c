/*
 * no_entry.c — test fixture, BAD: the library does not export `lathe_plugin_entry`.
 *
 * It exports a descriptor under a plausible wrong name, `lathe_plugin_main`, instead. dlopen
 * succeeds; dlsym(LATHE_ENTRY_SYMBOL) fails, and the host must report that the symbol is
 * missing (without calling anything).
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libno_entry.so no_entry.c
 */
#include <lathe_plugin.h>

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    (void)registrar;
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "no_entry", "1.0.0", "test fixture: no entry point", init, NULL};

/* THE DEFECT: wrong symbol name (the host looks up "lathe_plugin_entry"). */
LATHE_EXPORT const lathe_plugin *lathe_plugin_main(void) { return &plugin; }
