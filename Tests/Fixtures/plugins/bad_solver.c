/*
 * bad_solver.c — test fixture, BAD (ABI 1.2 layer solvers). Four solvers, each with one defect
 * the host must catch before it uses W':
 *   off_grid   quantizing: reports a per-row 4-bit affine grid but writes W' = w (not on it)
 *   no_grid    quantizing: writes W' = 0 and never reports a grid
 *   leak       pruning: mask all 0, W' = w (pruned weights left nonzero)
 *   half_mask  pruning: mask 0.5 everywhere, W' = 0
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libbad_solver.so bad_solver.c -lm
 */
#include <lathe_plugin.h>
#include <math.h>

static int64_t count_of(const DLTensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static int32_t off_grid(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask) {
    (void)mask;
    int64_t n = count_of(weight), rows = weight->shape[0], row = n / rows;
    const float *w = weight->data;
    float *y = new_weight->data;
    float *scales = call->host->scratch(call, (size_t)rows * sizeof(float));
    int32_t *zeros = call->host->scratch(call, (size_t)rows * sizeof(int32_t));
    if (!scales || !zeros) return LATHE_NO_MEMORY;
    for (int64_t r = 0; r < rows; r++) {
        float lo = 0, hi = 0;
        for (int64_t j = 0; j < row; j++) {
            lo = fminf(lo, w[r * row + j]);
            hi = fmaxf(hi, w[r * row + j]);
        }
        scales[r] = hi > lo ? (hi - lo) / 15 : 1;
        zeros[r] = (int32_t)rintf(-lo / scales[r]);
        for (int64_t j = 0; j < row; j++) y[r * row + j] = w[r * row + j] + 0.37f * scales[r]; /* THE DEFECT */
    }
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_AFFINE, 4, 0, 0, 15, (uint32_t)rows, scales, zeros, NULL, 0, 0, 0, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t no_grid(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask) {
    (void)call;
    (void)mask;
    float *y = new_weight->data;
    for (int64_t i = 0; i < count_of(weight); i++) y[i] = 0;
    return LATHE_OK; /* THE DEFECT: no report_qparams */
}

static int32_t leak(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask) {
    (void)call;
    const float *w = weight->data;
    float *y = new_weight->data, *m = mask->data;
    for (int64_t i = 0; i < count_of(weight); i++) {
        y[i] = w[i]; /* THE DEFECT */
        m[i] = 0;
    }
    return LATHE_OK;
}

static int32_t half_mask(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask) {
    (void)call;
    float *y = new_weight->data, *m = mask->data;
    for (int64_t i = 0; i < count_of(weight); i++) {
        y[i] = 0;
        m[i] = 0.5f; /* THE DEFECT */
    }
    return LATHE_OK;
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const uint32_t prunes = LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_SOLVER_PRUNES;
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "off_grid", "W' off its grid", NULL, NULL, LATHE_KIND_SOLVER, LATHE_FLAG_DETERMINISTIC,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)off_grid, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "no_grid", "no grid reported", NULL, NULL, LATHE_KIND_SOLVER, LATHE_FLAG_DETERMINISTIC,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)no_grid, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "leak", "pruned weights left", NULL, NULL, LATHE_KIND_SOLVER, prunes,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)leak, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "half_mask", "a mask of 0.5", NULL, NULL, LATHE_KIND_SOLVER, prunes,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)half_mask, NULL, 0, NULL, NULL},
    };
    for (unsigned i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) return status;
    }
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "bad_solver", "1.0.0", "test fixture: solvers the host refuses", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
