#define _POSIX_C_SOURCE 200809L
/* The plugin's own cost: calls a quantizer's function directly (no libffi, no validation, no
 * tensor views, a trivial host table), for comparison with `lathe plugins bench`.
 *   usage: plugin_direct_call LIB METHOD ITERATIONS   (the method must take no hyperparameters
 *   beyond those of the noop fixture: i32, f32, bool, enum, i64, f64 with their defaults) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lathe_plugin.h"

typedef int32_t (*noop_fn)(lathe_call *, const DLTensor *, DLTensor *, int32_t, float, bool, int32_t, int64_t, double);

static lathe_function found;
static const char *wanted;
static int32_t reg(const lathe_registrar *r, const lathe_method *m) {
    (void)r;
    if (strcmp(m->id, wanted) == 0) found = m->function;
    return LATHE_OK;
}
static void log_line(const lathe_host *h, int32_t l, const char *m) { (void)h; (void)l; (void)m; }
static void report_error(lathe_call *c, const char *m) { (void)c; fprintf(stderr, "error: %s\n", m); }
static int32_t report_qparams(lathe_call *c, const lathe_qparams *q) { (void)c; (void)q; return LATHE_OK; }
static void *scratch(lathe_call *c, size_t n) { (void)c; (void)n; return NULL; }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s LIB METHOD ITERATIONS\n", argv[0]); return 2; }
    wanted = argv[2];
    long iterations = atol(argv[3]);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    lathe_entry_function entry = (lathe_entry_function)dlsym(h, LATHE_ENTRY_SYMBOL);
    const lathe_plugin *p = entry();
    lathe_host host = { LATHE_HEAD(lathe_host), NULL, log_line, report_error, report_qparams, scratch };
    lathe_registrar r = { LATHE_HEAD(lathe_registrar), NULL, reg };
    if (p->init(&host, &r) != LATHE_OK || !found) { fprintf(stderr, "no method %s\n", wanted); return 1; }
    float x = 1.5f, y = 0;
    int64_t shape[1] = { 1 };
    DLTensor in = { &x, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, shape, NULL, 0 };
    DLTensor out = { &y, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, shape, NULL, 0 };
    lathe_call call = { LATHE_HEAD(lathe_call), &host, NULL };
    noop_fn f = (noop_fn)found;
    struct timespec a, b;
    double best = 1e30;
    for (int repeat = 0; repeat < 5; repeat++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < iterations; i++) f(&call, &in, &out, 8, 1.0f, true, 0, 5, 1e-3);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)iterations;
        if (ns < best) best = ns;
    }
    printf("%.1f\n", best);
    return 0;
}
