/* distill: channel-wise distillation (see distill.c for the formula and reference). */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* distill/cwd                                                                                 */

/** log softmax of the `n` values x / tau into out (max subtracted first), in double. */
static void log_softmax_row(const float *x, size_t n, double tau, double *out) {
    double top = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        out[i] = (double)x[i] / tau;
        if (out[i] > top) top = out[i];
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += exp(out[i] - top);
    const double log_z = top + log(sum);
    for (size_t i = 0; i < n; i++) out[i] -= log_z;
}

/**
 * Channel-wise distillation. Maps [B, C, spatial...] of equal shapes; per sample b and channel c
 * the spatial positions i form one distribution, q = softmax(t_bc / tau) (the teacher's) and
 * p = softmax(s_bc / tau) (the student's). loss = tau^2 / (B C) sum_{b,c} KL(q_bc || p_bc);
 * gradient tau (p - q) / (B C).
 */
int32_t cwd(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, double *loss,
            DLTensor *student_grad, float temperature) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 3, &a);
    if (status != LATHE_OK) return status;
    if (!(temperature >= 0.1f && temperature <= 100.0f))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "temperature must be in [0.1, 100], got %g", (double)temperature);
    char s1[96], s2[96];
    if (!same_shape(&a.student, &a.teacher))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                           "cwd needs equal student and teacher shapes [B, C, spatial...] (the host adapts the student's "
                           "channels); got %s and %s",
                           shape_text(&a.student, s1, sizeof s1), shape_text(&a.teacher, s2, sizeof s2));
    const size_t channels = a.student.shape[1];
    const size_t positions = a.student.per_sample / channels;
    const size_t rows = a.student.batch * channels;
    double *ls = scratch_doubles(call, 2 * positions, &status);
    if (ls == NULL) return status;
    double *lt = ls + positions;
    const double tau = (double)temperature, inv_rows = 1.0 / (double)rows;
    double total = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *s = a.student.data + r * positions, *t = a.teacher.data + r * positions;
        float *g = a.grad.data + r * positions;
        log_softmax_row(s, positions, tau, ls);
        log_softmax_row(t, positions, tau, lt);
        double kl = 0;
        for (size_t i = 0; i < positions; i++) {
            const double q = exp(lt[i]), p = exp(ls[i]);
            kl += q * (lt[i] - ls[i]);
            g[i] = (float)(tau * (p - q) * inv_rows);
        }
        total += kl;
    }
    *loss = tau * tau * total * inv_rows;
    return LATHE_OK;
}
