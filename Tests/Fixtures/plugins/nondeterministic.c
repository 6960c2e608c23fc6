/*
 * nondeterministic.c — test fixture, BAD: the ELEMENT criterion `nondeterministic/drift`
 * declares LATHE_FLAG_DETERMINISTIC but returns scores |w| + c, where c counts the calls so
 * far (0, 1, 2, ...). Two calls with the same weight give different bytes, which a determinism
 * check must catch. (The counter is atomic, so the fixture is otherwise well-behaved.)
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libnondeterministic.so nondeterministic.c
 */
#include <lathe_plugin.h>
#include <math.h>
#include <stdatomic.h>

static atomic_long calls; /* THE DEFECT: state that changes the result of every call */

static int32_t drift(lathe_call *call, const DLTensor *weight, const DLTensor *gradient, const DLTensor *aux,
                     DLTensor *scores) {
    (void)call;
    (void)gradient;
    (void)aux;
    float offset = (float)atomic_fetch_add(&calls, 1);
    int64_t n = 1;
    for (int d = 0; d < weight->ndim; d++) n *= weight->shape[d];
    const float *w = weight->data;
    float *out = scores->data;
    for (int64_t i = 0; i < n; i++) out[i] = fabsf(w[i]) + offset;
    return LATHE_OK;
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "drift", "Magnitude plus a call counter", NULL, NULL, LATHE_KIND_CRITERION,
        LATHE_FLAG_DETERMINISTIC /* a lie */, LATHE_GRANULARITY_ELEMENT, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)drift,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "nondeterministic", "1.0.0", "test fixture: not deterministic", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
