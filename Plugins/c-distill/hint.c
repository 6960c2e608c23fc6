/* distill: FitNets hint (see distill.c for the formulas and references). */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* distill/hint                                                                                */

/**
 * FitNets hint: loss = (1 / N) sum_i (s_i - t_i)^2 over all N = B * (elements per sample)
 * elements (torch's F.mse_loss, i.e. the batch mean of per-sample mean squared errors);
 * gradient 2 (s - t) / N.
 */
int32_t hint(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                    double *loss, DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    if (!same_shape(&a.student, &a.teacher)) {
        char s1[96], s2[96];
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                    "hint needs equal student and teacher shapes (the host adapts the student); got %s and %s",
                    shape_text(&a.student, s1, sizeof s1), shape_text(&a.teacher, s2, sizeof s2));
    }
    const float *s = a.student.data, *t = a.teacher.data;
    float *g = a.grad.data;
    const size_t n = a.student.count;
    const double scale = 1.0 / (double)n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)s[i] - (double)t[i];
        sum += d * d;
        g[i] = (float)(2.0 * d * scale);
    }
    *loss = sum * scale;
    return LATHE_OK;
}

