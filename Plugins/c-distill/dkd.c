/* distill: decoupled knowledge distillation, DKD (see distill.c for the formulas and reference). */
#include "distill_internal.h"
#if LATHE_ABI_MINOR >= 1 /* an ABI 1.1 method: see distill.c */

/** log sum_j exp(z_j) over j in [0, k) except `skip` (pass k to skip none). */
static double logsumexp_except(const double *z, size_t k, size_t skip) {
    double m = -INFINITY;
    for (size_t j = 0; j < k; j++)
        if (j != skip && z[j] > m) m = z[j];
    double sum = 0;
    for (size_t j = 0; j < k; j++)
        if (j != skip) sum += exp(z[j] - m);
    return m + log(sum);
}

/** p log(p / q) from the logs, 0 when p is 0. */
static double kl_term(double log_p, double log_q) {
    double p = exp(log_p);
    return p > 0 ? p * (log_p - log_q) : 0.0;
}

/** The warm-up factor: min((epoch + 1) / warmup, 1) during training (0-based epochs, so the first
 *  epoch is weighted 1/warmup as in the authors' 1-based min(epoch / warmup, 1)); 1 outside
 *  training (epoch -1, or a 1.0 host without the field) and when warmup is 0. */
static double warmup_factor(const lathe_call *call, int32_t warmup) {
    int32_t epoch, total_epochs;
    lathe_call_epochs(call, &epoch, &total_epochs);
    if (warmup <= 0 || epoch < 0) return 1.0;
    double f = ((double)epoch + 1.0) / (double)warmup;
    return f < 1.0 ? f : 1.0;
}

/**
 * DKD: per sample with target g, z = s / T, u = t / T, p = softmax(z), q = softmax(u).
 *   TCKD = KL((q_g, 1 - q_g) || (p_g, 1 - p_g)); NCKD = KL(q^ || p^) with p^, q^ the softmaxes
 *   over the non-target classes. loss = w * T^2 * mean_b(alpha TCKD + beta NCKD), w the warm-up.
 * Gradient w.r.t. z (then / T): TCKD: p_g - q_g at g, p^_j (q_g - p_g) elsewhere; NCKD: p^_j - q^_j
 * off the target, 0 at it. Everything in the log domain (1 - p_g = exp(lse_{j!=g} z - lse z)).
 */
int32_t dkd(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, double *loss,
            DLTensor *student_grad, float alpha, float beta, float temperature, int32_t warmup) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 2, &a);
    if (status != LATHE_OK) return status;
    char s1[96], s2[96];
    if (a.student.rank != 2 || !same_shape(&a.student, &a.teacher))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "dkd needs student and teacher logits of one shape [B, K]; got %s and %s",
                           shape_text(&a.student, s1, sizeof s1), shape_text(&a.teacher, s2, sizeof s2));
    const size_t b = a.student.batch, k = a.student.per_sample;
    if (k < 2) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "dkd needs K >= 2 classes (a non-target class), got %zu", k);
    if (!(temperature > 0) || !isfinite(alpha) || !isfinite(beta) || warmup < 0)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "dkd: temperature %g must be > 0, alpha %g and beta %g finite, warmup %d >= 0",
                           (double)temperature, (double)alpha, (double)beta, (int)warmup);
    const int64_t *y = (const int64_t *)(const void *)((const char *)labels->data + labels->byte_offset);
    for (size_t i = 0; i < b; i++)
        if (y[i] < 0 || (uint64_t)y[i] >= k)
            return lathe_failf(call, LATHE_INVALID_ARGUMENT, "dkd: label %lld of sample %zu is not a class in 0..%zu", (long long)y[i], i,
                               k - 1);
    double *z = scratch_doubles(call, 2 * k, &status);
    if (z == NULL) return status;
    double *u = z + k;
    const double T = (double)temperature, w = warmup_factor(call, warmup);
    const double A = (double)alpha, Bt = (double)beta;
    const double loss_scale = w * T * T / (double)b, grad_scale = w * T / (double)b;
    double total = 0;
    for (size_t i = 0; i < b; i++) {
        const float *s = a.student.data + i * k, *t = a.teacher.data + i * k;
        float *g = a.grad.data + i * k;
        const size_t tg = (size_t)y[i];
        for (size_t j = 0; j < k; j++) {
            z[j] = (double)s[j] / T;
            u[j] = (double)t[j] / T;
        }
        const double lse_z = logsumexp_except(z, k, k), lse_zn = logsumexp_except(z, k, tg);
        const double lse_u = logsumexp_except(u, k, k), lse_un = logsumexp_except(u, k, tg);
        /* Binary (target, rest) log-probabilities. */
        const double lp_g = z[tg] - lse_z, lp_n = lse_zn - lse_z, lq_g = u[tg] - lse_u, lq_n = lse_un - lse_u;
        double tckd = kl_term(lq_g, lp_g) + kl_term(lq_n, lp_n);
        double nckd = 0;
        for (size_t j = 0; j < k; j++)
            if (j != tg) nckd += kl_term(u[j] - lse_un, z[j] - lse_zn);
        total += A * tckd + Bt * nckd;
        const double p_g = exp(lp_g), q_g = exp(lq_g);
        for (size_t j = 0; j < k; j++) {
            double d;
            if (j == tg) {
                d = A * (p_g - q_g);
            } else {
                const double ph = exp(z[j] - lse_zn), qh = exp(u[j] - lse_un);
                d = A * ph * (q_g - p_g) + Bt * (ph - qh);
            }
            g[j] = (float)(d * grad_scale);
        }
    }
    *loss = total * loss_scale;
    return LATHE_OK;
}
#endif
