/* distill: RKD distance and angle (see distill.c for the formulas and references). */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* distill/rkd-distance                                                                        */

/**
 * Pairwise Euclidean distances of the B rows (length n) of x into d [B, B] (zero diagonal);
 * returns their mean over ordered pairs with d > 0 and that pair count in *positive.
 */
static double pairwise_distances(const float *x, size_t batch, size_t n, double *d, size_t *positive) {
    double sum = 0;
    size_t count = 0;
    for (size_t i = 0; i < batch; i++) {
        d[i * batch + i] = 0;
        for (size_t j = i + 1; j < batch; j++) {
            double v = sqrt(distance2_f(x + i * n, x + j * n, n));
            d[i * batch + j] = v;
            d[j * batch + i] = v;
            if (v > 0) {
                sum += 2 * v;
                count += 2;
            }
        }
    }
    *positive = count;
    return count > 0 ? sum / (double)count : 0;
}

/**
 * RKD distance-wise loss. Rows flattened to vectors; d_ij = ||x_i - x_j||_2, mu = mean of the
 * d_ij > 0 over ordered pairs i != j, e = d / mu (e = 0 if every distance is 0).
 * loss = (1/B^2) sum_{i,j} huber(e^s_ij - e^t_ij), Huber with delta 1 (smooth L1).
 */
int32_t rkd_distance(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                            double *loss, DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    const size_t batch = a.student.batch, ns = a.student.per_sample, nt = a.teacher.per_sample;
    if (batch > SIZE_MAX / sizeof(double) / batch / 3) return lathe_failf(call, LATHE_UNSUPPORTED, "batch %zu is too large", batch);
    double *ds = scratch_doubles(call, 3 * batch * batch, &status);
    if (ds == NULL) return status;
    double *dt = ds + batch * batch, *gd = dt + batch * batch;

    size_t ks, kt;
    const double mu_s = pairwise_distances(a.student.data, batch, ns, ds, &ks);
    const double mu_t = pairwise_distances(a.teacher.data, batch, nt, dt, &kt);
    const double inv_s = mu_s > 0 ? 1.0 / mu_s : 0, inv_t = mu_t > 0 ? 1.0 / mu_t : 0;
    const double inv_pairs = 1.0 / ((double)batch * (double)batch);

    /* loss, u_ij = huber'(r_ij) / B^2 into gd, and S = sum u_ij d_ij */
    double total = 0, weighted = 0;
    for (size_t i = 0; i < batch; i++)
        for (size_t j = 0; j < batch; j++) {
            size_t ij = i * batch + j;
            double r = ds[ij] * inv_s - dt[ij] * inv_t;
            total += huber(r);
            gd[ij] = huber_grad(r) * inv_pairs;
            weighted += gd[ij] * ds[ij];
        }
    *loss = total * inv_pairs;

    float *g = a.grad.data;
    memset(g, 0, a.student.count * sizeof(float));
    if (ks == 0) return LATHE_OK;  /* every student distance is 0: the loss is flat here */
    /* G_ij = u_ij / mu - [d_ij > 0] S / (K mu^2); grad x_k = 2 sum_l G_kl (x_k - x_l) / d_kl */
    const double through_mean = weighted / ((double)ks * mu_s * mu_s);
    const float *x = a.student.data;
    for (size_t k = 0; k < batch; k++) {
        float *gk = g + k * ns;
        const float *xk = x + k * ns;
        for (size_t l = 0; l < batch; l++) {
            double d = ds[k * batch + l];
            if (l == k || !(d > 0)) continue;
            double coefficient = 2.0 * (gd[k * batch + l] * inv_s - through_mean) / d;
            const float *xl = x + l * ns;
            for (size_t e = 0; e < ns; e++) gk[e] = (float)((double)gk[e] + coefficient * ((double)xk[e] - (double)xl[e]));
        }
    }
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* distill/rkd-angle                                                                           */

/**
 * Unit difference vectors from vertex `apex`: n_b = (x_b - x_apex) / max(||.||, eps) for every
 * b (n_apex = 0), into n [B, len]; their norms into norms[B].
 */
static void unit_differences(const float *x, size_t batch, size_t len, size_t apex, double *n, double *norms) {
    const float *xa = x + apex * len;
    for (size_t b = 0; b < batch; b++) {
        const float *xb = x + b * len;
        double *nb = n + b * len;
        for (size_t e = 0; e < len; e++) nb[e] = (double)xb[e] - (double)xa[e];
        norms[b] = normalize(nb, nb, len);
    }
}

/**
 * RKD angle-wise loss. Rows flattened; for every triplet (i, j, k) with vertex j,
 * cos_ijk = <n(x_i - x_j), n(x_k - x_j)>, n(v) = v / max(||v||, 1e-12) (0 for v = 0).
 * loss = (1/B^3) sum_{i,j,k} huber(cos^s_ijk - cos^t_ijk) over all B^3 triplets, as the
 * authors' code (degenerate triplets contribute 0). The gradient through an exactly zero
 * difference vector x_i = x_j (i != j) is taken as 0.
 */
int32_t rkd_angle(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                         double *loss, DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    const size_t batch = a.student.batch, ls = a.student.per_sample, lt = a.teacher.per_sample;
    if (batch > SIZE_MAX / sizeof(double) / batch / 2 || ls > SIZE_MAX / sizeof(double) / batch / 2 ||
        lt > SIZE_MAX / sizeof(double) / batch)
        return lathe_failf(call, LATHE_UNSUPPORTED, "batch %zu is too large", batch);
    double *u = scratch_doubles(call, batch * batch, &status);
    double *ns = u ? scratch_doubles(call, 2 * batch * ls, &status) : NULL;
    double *nt = ns ? scratch_doubles(call, batch * lt, &status) : NULL;
    double *norms = nt ? scratch_doubles(call, 2 * batch, &status) : NULL;
    if (norms == NULL) return status;
    double *m = ns + batch * ls, *norms_t = norms + batch;

    const double inv_triplets = 1.0 / ((double)batch * (double)batch * (double)batch);
    float *g = a.grad.data;
    memset(g, 0, a.student.count * sizeof(float));
    double total = 0;
    for (size_t apex = 0; apex < batch; apex++) {
        unit_differences(a.student.data, batch, ls, apex, ns, norms);
        unit_differences(a.teacher.data, batch, lt, apex, nt, norms_t);
        /* cosines of the symmetric Gram matrices; u = huber'(r) / B^3 (symmetric) */
        for (size_t i = 0; i < batch; i++)
            for (size_t k = i; k < batch; k++) {
                double r = dot_d(ns + i * ls, ns + k * ls, ls) - dot_d(nt + i * lt, nt + k * lt, lt);
                total += (i == k ? 1.0 : 2.0) * huber(r);
                u[i * batch + k] = u[k * batch + i] = huber_grad(r) * inv_triplets;
            }
        /* d loss / d n_i = m_i = 2 sum_k u_ik n_k */
        for (size_t i = 0; i < batch; i++) {
            double *mi = m + i * ls;
            for (size_t e = 0; e < ls; e++) mi[e] = 0;
            for (size_t k = 0; k < batch; k++) {
                double w = 2.0 * u[i * batch + k];
                if (w == 0) continue;
                const double *nk = ns + k * ls;
                for (size_t e = 0; e < ls; e++) mi[e] += w * nk[e];
            }
        }
        /* through n = v / ||v|| to v_i = x_i - x_apex */
        float *ga = g + apex * ls;
        for (size_t i = 0; i < batch; i++) {
            if (i == apex || !(norms[i] >= NORM_EPS)) continue;
            const double *ni = ns + i * ls, *mi = m + i * ls;
            const double along = dot_d(ni, mi, ls), inv = 1.0 / norms[i];
            float *gi = g + i * ls;
            for (size_t e = 0; e < ls; e++) {
                double dv = (mi[e] - ni[e] * along) * inv;
                gi[e] = (float)((double)gi[e] + dv);
                ga[e] = (float)((double)ga[e] - dv);
            }
        }
    }
    *loss = total * inv_triplets;
    return LATHE_OK;
}

