/* linalg.c — the dense double-precision linear algebra the calib solvers need (row-major n×n,
 * loops ordered so that the inner products run over contiguous rows). */
#include "calib_internal.h"

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
