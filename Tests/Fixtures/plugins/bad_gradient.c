/*
 * bad_gradient.c — test fixture, BAD: the RESPONSE distillation loss `bad_gradient/mse` computes
 * a correct loss but a gradient twice too large.
 *
 *   loss = 1/(B*K) * sum_{b,k} (s[b,k] - t[b,k])^2          (correct; labels are ignored)
 *   true gradient      d loss / d s = 2 * (s - t) / (B*K)
 *   returned gradient                4 * (s - t) / (B*K)     THE DEFECT: off by a factor 2
 *
 * A gradient check (finite differences) must catch it. Deterministic and thread-safe.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libbad_gradient.so bad_gradient.c
 */
#include <lathe_plugin.h>

static int32_t mse(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                   double *loss, DLTensor *student_grad) {
    (void)labels;
    if (student->ndim != 2 || teacher->ndim != 2 || student->shape[0] != teacher->shape[0] ||
        student->shape[1] != teacher->shape[1]) {
        call->host->report_error(call, "student and teacher must both be [B, K]");
        return LATHE_INVALID_ARGUMENT;
    }
    int64_t n = student->shape[0] * student->shape[1];
    if (n == 0) {
        call->host->report_error(call, "empty batch");
        return LATHE_INVALID_ARGUMENT;
    }
    const float *s = student->data, *t = teacher->data;
    float *g = student_grad->data;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)s[i] - (double)t[i];
        sum += d * d;
        g[i] = (float)(4.0 * d / (double)n); /* THE DEFECT: should be 2.0 * d / n */
    }
    *loss = sum / (double)n;
    return LATHE_OK;
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "mse", "Logit MSE with a wrong gradient", NULL, NULL, LATHE_KIND_LOSS,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_RESPONSE,
        NULL, 0, (lathe_function)mse,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "bad_gradient", "1.0.0", "test fixture: gradient off by 2x", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
