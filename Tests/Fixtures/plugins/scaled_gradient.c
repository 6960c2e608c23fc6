/*
 * scaled_gradient.c — test fixture, BAD at one end of its range: the RESPONSE loss
 * `scaled_gradient/mse` with hyperparameter `scale` (F32, default 1, range 0.5..4) computes
 *
 *   loss = scale * 1/(B*K) * sum_{b,k} (s[b,k] - t[b,k])^2            (correct)
 *   grad = min(scale, 2) * 2 * (s - t) / (B*K)                          THE DEFECT: min(scale, 2)
 *
 * so the gradient is right at the default and the minimum and half the truth at scale = 4.
 * Only a gradient check run at each hyperparameter's bounds finds it. Deterministic and
 * thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libscaled_gradient.so scaled_gradient.c
 */
#include <lathe_plugin.h>

static int32_t mse(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                   double *loss, DLTensor *student_grad, float scale) {
    (void)labels;
    int64_t n = 1;
    for (int d = 0; d < student->ndim; d++) n *= student->shape[d];
    if (n == 0) {
        call->host->report_error(call, "empty batch");
        return LATHE_INVALID_ARGUMENT;
    }
    const float *s = student->data, *t = teacher->data;
    float *g = student_grad->data;
    double gradient_scale = scale < 2 ? scale : 2; /* THE DEFECT */
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)s[i] - (double)t[i];
        sum += d * d;
        g[i] = (float)(gradient_scale * 2.0 * d / (double)n);
    }
    *loss = scale * sum / (double)n;
    return LATHE_OK;
}

static const lathe_param params[] = {
    {LATHE_HEAD(lathe_param), "scale", LATHE_PARAM_F32, "loss weight", 1, 0.5, 4, NULL, 0},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "mse", "Scaled logit MSE, gradient clamped", NULL, NULL, LATHE_KIND_LOSS,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_RESPONSE,
        params, 1, (lathe_function)mse,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "scaled_gradient", "1.0.0", "test fixture: gradient wrong at the scale's maximum", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
