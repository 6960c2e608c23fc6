/*
 * learn_bank.c — test fixture, GOOD (ABI 1.1): `learn_bank/offset`, a response loss with a
 * VECTOR learnable `v` of `dim` elements (I32, default 4, range 1..64) and a state buffer.
 *   Student and teacher [B, D]; r_bj = s_bj - t_bj - v[j mod dim]; w = 1 / (1 + calls), calls
 *   being the calls this instance made before (read from the state);
 *   loss = w (1 / (B D)) sum r^2;  dloss/ds = 2 w r / (B D);  dloss/dv_k = -2 w sum_{j mod dim = k} r / (B D).
 *   init_learnables: v_k = (1/2) mean over b and j mod dim = k of (s - t) (0 when none).
 * State (host->state, 8 int64s): [0] calls so far, then what the last call's context said:
 *   [1] step, [2] total_steps, [3] epoch, [4] total_epochs, [5] sum of sample_indices (-1 when
 *   NULL), [6] dataset_size, [7] strlen(layer) * 100 + role * 10 + (axis + 1).
 * Deterministic and thread-safe (no global state; the host serializes an instance's calls).
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o liblearn_bank.so learn_bank.c
 */
#include <lathe_plugin.h>
#include <string.h>

static int32_t offset_init(lathe_call *call, const DLTensor *student, const DLTensor *teacher, int32_t dim) {
    const int64_t b = student->shape[0], d = b > 0 ? student->shape[1] : 0;
    const float *s = (const float *)student->data, *t = (const float *)teacher->data;
    float *v = (float *)call->learnable_outputs[0]->data;
    for (int32_t k = 0; k < dim; k++) {
        double sum = 0;
        int64_t n = 0;
        for (int64_t i = 0; i < b; i++)
            for (int64_t j = k; j < d; j += dim, n++) sum += (double)s[i * d + j] - (double)t[i * d + j];
        v[k] = n > 0 ? (float)(0.5 * sum / (double)n) : 0.0f;
    }
    return LATHE_OK;
}

static int32_t offset(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                      double *loss, DLTensor *student_grad, int32_t dim) {
    (void)labels;
    if (student->ndim != 2 || teacher->ndim != 2) {
        call->host->report_error(call, "student and teacher must be [B, D]");
        return LATHE_UNSUPPORTED;
    }
    int64_t *state = call->host->state(call, 8 * sizeof(int64_t));
    if (state == NULL) {
        call->host->report_error(call, "no state buffer");
        return LATHE_NO_MEMORY;
    }
    const int64_t b = student->shape[0], d = student->shape[1];
    const float *s = (const float *)student->data, *t = (const float *)teacher->data;
    const float *v = (const float *)call->learnables[0]->data;
    float *gs = (float *)student_grad->data, *gv = (float *)call->learnable_outputs[0]->data;
    const double w = 1.0 / (1.0 + (double)state[0]), n = (double)(b * d > 0 ? b * d : 1);
    double total = 0, acc[64] = {0};
    for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < d; j++) {
            double r = (double)s[i * d + j] - (double)t[i * d + j] - (double)v[j % dim];
            total += r * r;
            gs[i * d + j] = (float)(2 * w * r / n);
            acc[j % dim] -= 2 * w * r / n;
        }
    for (int32_t k = 0; k < dim; k++) gv[k] = (float)acc[k];
    *loss = w * total / n;

    int64_t sum = -1;
    if (call->sample_indices) {
        sum = 0;
        for (int64_t i = 0; i < b; i++) sum += call->sample_indices[i];
    }
    state[0] += 1;
    state[1] = call->step;
    state[2] = call->total_steps;
    state[3] = call->epoch;
    state[4] = call->total_epochs;
    state[5] = sum;
    state[6] = call->dataset_size;
    state[7] = (int64_t)strlen(call->layer) * 100 + call->role * 10 + (call->axis + 1);
    return LATHE_OK;
}

static const lathe_param params[] = {
    {LATHE_HEAD(lathe_param), "dim", LATHE_PARAM_I32, "length of the offset vector", 4, 1, 64, NULL, 0},
};
static const lathe_learnable learnables[] = {
    {LATHE_HEAD(lathe_learnable), "v", LATHE_SHAPE_VECTOR, "dim", "the learned offset"},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "offset", "Offset MSE with a call counter (test fixture)", NULL, NULL, LATHE_KIND_LOSS,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_RESPONSE, params, 1,
        (lathe_function)offset, learnables, 1, (lathe_function)offset_init, NULL,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "learn_bank", "1.0.0", "test fixture: loss with a learnable and state", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
