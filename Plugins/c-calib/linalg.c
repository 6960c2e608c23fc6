/* linalg.c — the dense double-precision linear algebra the calib solvers need (row-major n×n,
 * loops ordered so that the inner products run over contiguous rows). */
#include "calib_internal.h"

#include <stdio.h>

int calib_cholesky(double *a, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        double *rj = a + j * n;
        double d = rj[j];
        for (int64_t k = 0; k < j; k++) d -= rj[k] * rj[k];
        if (!(d > 0) || !isfinite(d)) return -1;
        double l = sqrt(d);
        rj[j] = l;
        for (int64_t i = j + 1; i < n; i++) {
            double *ri = a + i * n;
            double s = ri[j];
            for (int64_t k = 0; k < j; k++) s -= ri[k] * rj[k];
            ri[j] = s / l;
        }
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) a[i * n + j] = 0;
    return 0;
}

/* Y = L⁻¹ for lower-triangular L, from Y·L = I row by row: Y[i,j] = −Σ_{k=j+1..i} Y[i,k]·L[k,j] / L[j,j]
 * (Y[i,i] = 1/L[i,i]), with `lt` = Lᵀ so that the sums run along rows. */
static void lower_inverse(const double *lt, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double *yi = y + i * n;
        for (int64_t j = i + 1; j < n; j++) yi[j] = 0;
        yi[i] = 1.0 / lt[i * n + i];
        for (int64_t j = i - 1; j >= 0; j--) {
            const double *lj = lt + j * n;
            double s = 0;
            for (int64_t k = j + 1; k <= i; k++) s += yi[k] * lj[k];
            yi[j] = -s / lj[j];
        }
    }
}

int calib_inverse_upper_cholesky(const double *h, double *u, double *work, int64_t n) {
    /* With J the reversal, H' = J·H·J = L'·L'ᵀ gives H⁻¹ = (J·L'⁻ᵀ·J)(J·L'⁻¹·J) = Uᵀ·U, and
     * U = J·L'⁻¹·J is upper triangular: one Cholesky and one triangular inverse. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) work[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
    if (calib_cholesky(work, n) != 0) return -1;
    /* work holds L'; put L'ᵀ into u for the row-wise inverse, then the inverse back into work. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) u[j * n + i] = work[i * n + j];
    lower_inverse(u, work, n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) u[i * n + j] = work[(n - 1 - i) * n + (n - 1 - j)];
    for (int64_t i = 0; i < n * n; i++)
        if (!isfinite(u[i])) return -1;
    return 0;
}

int calib_damped_inverse(lathe_call *call, const char *method, const float *gram, const double *diag, const int64_t *perm, int64_t d,
                         float damp, double *h, double *u, double *work, double *used_damp) {
    double mean = 0;
    for (int64_t i = 0; i < d; i++) mean += diag[i] > 0 ? diag[i] : 1;
    mean /= (double)d;
    /* λ = damp·mean(diag H), raised tenfold (up to mean(diag H) itself) while H + λI is not
     * positive definite in floating point. Dead inputs: identity rows and columns. */
    double rel = damp;
    for (;;) {
        for (int64_t i = 0; i < d; i++)
            for (int64_t k = 0; k < d; k++) {
                double v = diag[perm[i]] > 0 && diag[perm[k]] > 0 ? (double)gram[perm[i] * d + perm[k]] : (i == k ? 1.0 : 0.0);
                h[i * d + k] = v + (i == k ? rel * mean : 0);
            }
        if (calib_inverse_upper_cholesky(h, u, work, d) == 0) break;
        if (rel >= 1) {
            lathe_failf(call, LATHE_INVALID_ARGUMENT,
                        "%s: the input Gram matrix of this layer is not positive definite even with damping %g·mean(diag H)", method, rel);
            return -1;
        }
        rel = fmin(rel * 10, 1.0);
    }
    if (rel > damp) {
        char line[200];
        snprintf(line, sizeof line, "%s: layer %s: damping raised from %g to %g of mean(diag H) (H not positive definite)", method,
                 LATHE_HAS_FIELD(call, lathe_call, layer) && call->layer ? call->layer : "?", damp, rel);
        lathe_log(call->host, 2, line);
    }
    *used_damp = fmax(*used_damp, rel);
    return 0;
}

void calib_metric(lathe_call *call, const char *name, double value) {
    if (LATHE_HAS_FIELD(call->host, lathe_host, report_metric) && call->host->report_metric && isfinite(value))
        call->host->report_metric(call, name, value);
}
