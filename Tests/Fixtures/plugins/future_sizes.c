/*
 * future_sizes.c — test fixture, GOOD: a plugin as a later minor version (say ABI 1.2) would
 * write it. Every struct it hands the host (plugin descriptor, method, parameter array, reported
 * qparams) is the 1.0 struct followed by fields this host does not know, and declares that larger
 * size in its head. The host must accept it, stride the parameter array by the declared size,
 * read none of the unknown fields, and run the method: `future_sizes/scale` rounds
 * to a grid of step 1/levels clipped to ±limit and reports one per-tensor scale.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libfuture_sizes.so future_sizes.c
 */
#include <lathe_plugin.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

/* Fields a future minor version appends; filled with a pattern the host must never act on. */
typedef struct { uint64_t appended[3]; } future_tail;
typedef struct { lathe_plugin base; future_tail tail; } plugin_1_2;
typedef struct { lathe_method base; future_tail tail; } method_1_2;
typedef struct { lathe_param base; future_tail tail; } param_1_2;
typedef struct { lathe_qparams base; future_tail tail; } qparams_1_2;

#define FUTURE_HEAD(T) { LATHE_ABI_MAJOR, 2, (uint32_t)sizeof(T) }
#define TAIL { { 0xDEADBEEFDEADBEEFull, 0xDEADBEEFDEADBEEFull, 0xDEADBEEFDEADBEEFull } }

static const param_1_2 params[2] = {
    { { FUTURE_HEAD(param_1_2), "levels", LATHE_PARAM_F64, "grid points per unit", 2.0, 1.0, 8.0, NULL, 0 }, TAIL },
    { { FUTURE_HEAD(param_1_2), "limit", LATHE_PARAM_F64, "clip to [-limit, limit]", 4.0, 1.0, 100.0, NULL, 0 }, TAIL },
};

/* Hyperparameters arrive as arguments after the tensors, in declaration order. A symmetric
 * grid of step 1/levels, clipped to [-limit, limit]. */
static int32_t scale(lathe_call *call, const DLTensor *input, DLTensor *output, double levels, double limit) {
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    const float *x = (const float *)input->data;
    float *y = (float *)output->data;
    const double qmax = floor(limit * levels);
    for (int64_t i = 0; i < n; i++) {
        double q = nearbyint((double)x[i] * levels);
        if (!(q >= -qmax)) q = -qmax; /* NaN goes to the lower bound */
        if (q > qmax) q = qmax;
        y[i] = (float)(q / levels);
    }
    const float s = (float)(1.0 / levels);
    qparams_1_2 q = { { FUTURE_HEAD(qparams_1_2), LATHE_QSCHEME_SYMMETRIC, 16, -1, (int32_t)-qmax, (int32_t)qmax, 1, &s, NULL, NULL, 0 }, TAIL };
    return call->host->report_qparams(call, &q.base);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const method_1_2 method = {
        { FUTURE_HEAD(method_1_2), "scale", "Grid quantizer (a 1.2-sized plugin)", "round to a grid of step 1/levels, clip to ±limit", NULL, LATHE_KIND_QUANTIZER,
          LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
          &params[0].base, 2, (lathe_function)scale },
        TAIL,
    };
    return registrar->register_method(registrar, &method.base);
}

static const plugin_1_2 plugin = {
    { FUTURE_HEAD(plugin_1_2), "future_sizes", "1.2.0", "test fixture: structs of a later minor ABI", init, NULL },
    TAIL,
};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin.base; }
