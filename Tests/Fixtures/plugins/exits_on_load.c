/*
 * exits_on_load.c — test fixture, BAD: the plugin's init calls exit(0), ending the process that
 * loads it with status 0 before it has registered anything.
 *
 * A host must report that loading failed (and why), not read the empty description as a
 * malformed manifest or an empty plugin.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libexits_on_load.so exits_on_load.c
 */
#include <lathe_plugin.h>
#include <stdlib.h>

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    (void)registrar;
    exit(0); /* THE DEFECT */
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "exits_on_load", "1.0.0", "test fixture: calls exit(0) in init", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
