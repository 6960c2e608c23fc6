/*
 * no_gradient.c — test fixture, BAD: the RESPONSE loss `no_gradient/mse` computes
 *
 *   loss = weight * 1/(B*K) * sum_{b,k} (s[b,k] - t[b,k])^2
 *
 * correctly (hyperparameter `weight`, F32, default 1, range 0.5..2) but never writes
 * `student_grad` (THE DEFECT). The first call must fail, naming the unwritten gradient, before
 * any check blames a hyperparameter. Deterministic and thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libno_gradient.so no_gradient.c
 */
#include <lathe_plugin.h>

static int32_t mse(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                   double *loss, DLTensor *student_grad, float weight) {
    (void)labels;
    (void)student_grad; /* THE DEFECT: never written */
    int64_t n = 1;
    for (int d = 0; d < student->ndim; d++) n *= student->shape[d];
    if (n == 0) {
        call->host->report_error(call, "empty batch");
        return LATHE_INVALID_ARGUMENT;
    }
    const float *s = student->data, *t = teacher->data;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)s[i] - (double)t[i];
        sum += d * d;
    }
    *loss = weight * sum / (double)n;
    return LATHE_OK;
}

static const lathe_param params[] = {
    {LATHE_HEAD(lathe_param), "weight", LATHE_PARAM_F32, "loss weight", 1, 0.5, 2, NULL, 0},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "mse", "Logit MSE without a gradient", NULL, NULL, LATHE_KIND_LOSS,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_RESPONSE,
        params, 1, (lathe_function)mse,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "no_gradient", "1.0.0", "test fixture: gradient never written", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
