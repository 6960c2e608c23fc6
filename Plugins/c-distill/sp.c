/* distill: similarity-preserving (see distill.c for the formulas and references). */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* distill/sp                                                                                  */

/** G = X X^T of the B rows (length n) of x, row-normalised into nrm; row norms into norms. */
static void similarity(const float *x, size_t batch, size_t n, double *gram, double *nrm, double *norms) {
    for (size_t i = 0; i < batch; i++)
        for (size_t j = i; j < batch; j++) gram[i * batch + j] = gram[j * batch + i] = dot_f(x + i * n, x + j * n, n);
    for (size_t i = 0; i < batch; i++) norms[i] = normalize(gram + i * batch, nrm + i * batch, batch);
}

/**
 * Similarity-preserving loss. Rows flattened to F [B, n]; G = F F^T, each row divided by
 * max(its L2 norm, 1e-12); loss = ||G~_s - G~_t||_F^2 / B^2. The gradient through the row of
 * an all-zero sample (whose Gram row is 0) is taken as 0.
 */
int32_t sp(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, double *loss,
                  DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    const size_t batch = a.student.batch, ls = a.student.per_sample, lt = a.teacher.per_sample;
    if (batch > SIZE_MAX / sizeof(double) / batch / 4) return lathe_failf(call, LATHE_UNSUPPORTED, "batch %zu is too large", batch);
    double *gs = scratch_doubles(call, 4 * batch * batch + 2 * batch, &status);
    if (gs == NULL) return status;
    double *ns = gs + batch * batch, *gt = ns + batch * batch, *nt = gt + batch * batch;
    double *norms_s = nt + batch * batch, *norms_t = norms_s + batch;

    similarity(a.teacher.data, batch, lt, gt, nt, norms_t);
    similarity(a.student.data, batch, ls, gs, ns, norms_s);
    const double inv_pairs = 1.0 / ((double)batch * (double)batch);
    double total = 0;
    /* dN = 2 (N_s - N_t) / B^2, stored over gt (no longer needed) */
    double *h = gt;
    for (size_t i = 0; i < batch * batch; i++) {
        double d = ns[i] - nt[i];
        total += d * d;
        h[i] = 2.0 * d * inv_pairs;
    }
    *loss = total * inv_pairs;
    /* through the row normalisation: H_i = (dN_i - N_i (N_i . dN_i)) / ||G_i|| */
    for (size_t i = 0; i < batch; i++) {
        double *hi = h + i * batch;
        const double *ni = ns + i * batch;
        if (!(norms_s[i] >= NORM_EPS)) {
            for (size_t j = 0; j < batch; j++) hi[j] = 0;
            continue;
        }
        const double along = dot_d(ni, hi, batch), inv = 1.0 / norms_s[i];
        for (size_t j = 0; j < batch; j++) hi[j] = (hi[j] - ni[j] * along) * inv;
    }
    /* through G = F F^T: dF_k = sum_j (H_kj + H_jk) F_j */
    const float *x = a.student.data;
    float *g = a.grad.data;
    double *row = gs;  /* reuse: one row of doubles for accumulation */
    if (ls > batch * batch) {
        row = scratch_doubles(call, ls, &status);
        if (row == NULL) return status;
    }
    for (size_t k = 0; k < batch; k++) {
        for (size_t e = 0; e < ls; e++) row[e] = 0;
        for (size_t j = 0; j < batch; j++) {
            double w = h[k * batch + j] + h[j * batch + k];
            if (w == 0) continue;
            const float *xj = x + j * ls;
            for (size_t e = 0; e < ls; e++) row[e] += w * (double)xj[e];
        }
        float *gk = g + k * ls;
        for (size_t e = 0; e < ls; e++) gk[e] = (float)row[e];
    }
    return LATHE_OK;
}

