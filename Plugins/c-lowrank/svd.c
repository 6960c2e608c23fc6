/* svd.c — one-sided Jacobi SVD, and the factorizers lowrank/svd and lowrank/asvd. */
#include "lowrank_internal.h"

#include <math.h>
#include <string.h>

/* Orthogonalises the q columns (each p long, column j at c + j·p) of C by plane rotations,
 * accumulating them in the q×q matrix V (column j at v + j·q); on return C = A·V has orthogonal
 * columns. */
static void jacobi_columns(double *c, int64_t p, int64_t q, double *v) {
    for (int64_t i = 0; i < q * q; i++) v[i] = 0;
    for (int64_t i = 0; i < q; i++) v[i * q + i] = 1;
    for (int sweep = 0; sweep < 80; sweep++) {
        double off = 0;
        for (int64_t j = 0; j < q - 1; j++) {
            for (int64_t k = j + 1; k < q; k++) {
                double *cj = c + j * p, *ck = c + k * p;
                double alpha = 0, beta = 0, gamma = 0;
                for (int64_t i = 0; i < p; i++) {
                    alpha += cj[i] * cj[i];
                    beta += ck[i] * ck[i];
                    gamma += cj[i] * ck[i];
                }
                if (gamma == 0 || fabs(gamma) <= 1e-15 * sqrt(alpha * beta)) continue;
                off = fmax(off, fabs(gamma) / sqrt(alpha * beta));
                double zeta = (beta - alpha) / (2 * gamma);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                double cs = 1 / sqrt(1 + t * t), sn = cs * t;
                for (int64_t i = 0; i < p; i++) {
                    double x = cj[i], y = ck[i];
                    cj[i] = cs * x - sn * y;
                    ck[i] = sn * x + cs * y;
                }
                double *vj = v + j * q, *vk = v + k * q;
                for (int64_t i = 0; i < q; i++) {
                    double x = vj[i], y = vk[i];
                    vj[i] = cs * x - sn * y;
                    vk[i] = sn * x + cs * y;
                }
            }
        }
        if (off < 1e-14) break;
    }
}

void lowrank_svd(const double *w, int64_t m, int64_t n, double *u, double *sigma, double *vt, double *work) {
    bool wide = m <= n; /* orthogonalise the m columns of wᵀ, else the n columns of w */
    int64_t k = wide ? m : n, p = wide ? n : m;
    double *c = work, *v = work + m * n;
    for (int64_t r = 0; r < m; r++)
        for (int64_t s = 0; s < n; s++) {
            if (wide) c[r * n + s] = w[r * n + s];   /* column r of wᵀ = row r of w */
            else c[s * m + r] = w[r * n + s];        /* column s of w */
        }
    jacobi_columns(c, p, k, v);
    /* Order the columns by their norms, descending (selection: k is small). */
    int64_t order[k > 0 ? k : 1];
    double norm[k > 0 ? k : 1];
    for (int64_t j = 0; j < k; j++) {
        double s2 = 0;
        for (int64_t i = 0; i < p; i++) s2 += c[j * p + i] * c[j * p + i];
        norm[j] = sqrt(s2);
        order[j] = j;
    }
    for (int64_t a = 0; a < k; a++)
        for (int64_t b = a + 1; b < k; b++)
            if (norm[order[b]] > norm[order[a]]) { int64_t t = order[a]; order[a] = order[b]; order[b] = t; }
    for (int64_t jj = 0; jj < k; jj++) {
        int64_t j = order[jj];
        double s = norm[j];
        sigma[jj] = s;
        /* wide: w = V·Cᵀ, left vector v_j (m long), right c_j/σ (n long); else w = C·Vᵀ. */
        for (int64_t r = 0; r < m; r++) u[r * k + jj] = wide ? v[j * k + r] : (s > 0 ? c[j * p + r] / s : 0);
        for (int64_t q = 0; q < n; q++) vt[jj * n + q] = wide ? (s > 0 ? c[j * p + q] / s : 0) : v[j * k + q];
    }
}

/* The rank `rule` chooses for singular values sigma[0..k) of an m×n matrix. */
static int64_t choose_rank(int32_t rule, double amount, const double *sigma, int64_t k, int64_t m, int64_t n) {
    int64_t r = 1;
    if (rule == LOWRANK_RULE_MACS) {
        r = (int64_t)floor(amount * (double)m * (double)n / (double)(m + n));
    } else if (rule == LOWRANK_RULE_RATIO) {
        r = (int64_t)llround(amount * (double)k);
    } else {
        double total = 0, kept = 0;
        for (int64_t j = 0; j < k; j++) total += sigma[j] * sigma[j];
        r = k;
        for (int64_t j = 0; j < k; j++) {
            kept += sigma[j] * sigma[j];
            if (kept >= amount * total) { r = j + 1; break; }
        }
    }
    if (r < 1) r = 1;
    if (r > k) r = k;
    return r;
}

/* The factorization of m×n `w` (double) into a (m×k) and b (k×n) at the chosen rank, split
 * evenly (a = U·√Σ, b = √Σ·Vᵀ), zero beyond the rank; `column_scale` (n values, or NULL) divides
 * the columns of b afterwards (ASVD's S⁻¹). Reports rank and kept_energy. */
static int32_t factor(lathe_call *call, const char *method, const double *w, int64_t m, int64_t n, int32_t rule, float amount,
                      const double *column_scale, DLTensor *a, DLTensor *b) {
    int64_t k = m < n ? m : n;
    size_t doubles = (size_t)(m * k + k + k * n + m * n + k * k);
    double *buffer = lathe_scratch(call, doubles * sizeof(double));
    if (buffer == NULL) return lathe_failf(call, LATHE_NO_MEMORY, "%s: no scratch memory for the SVD", method);
    double *u = buffer, *sigma = u + m * k, *vt = sigma + k, *work = vt + k * n;
    lowrank_svd(w, m, n, u, sigma, vt, work);
    int64_t r = choose_rank(rule, amount, sigma, k, m, n);
    double total = 0, kept = 0;
    for (int64_t j = 0; j < k; j++) {
        total += sigma[j] * sigma[j];
        if (j < r) kept += sigma[j] * sigma[j];
    }
    float *fa = (float *)a->data, *fb = (float *)b->data;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) fa[i * k + j] = j < r ? (float)(u[i * k + j] * sqrt(sigma[j])) : 0.0f;
    for (int64_t j = 0; j < k; j++)
        for (int64_t q = 0; q < n; q++) {
            double value = j < r ? vt[j * n + q] * sqrt(sigma[j]) : 0;
            if (column_scale != NULL) value /= column_scale[q];
            fb[j * n + q] = (float)value;
        }
    if (!LATHE_HAS_FIELD(call->host, lathe_host, report_metric) || call->host->report_metric(call, "rank", (double)r) != LATHE_OK)
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s: the host did not take the rank (it needs host->report_metric, ABI 1.2 or later)", method);
    call->host->report_metric(call, "kept_energy", total > 0 ? kept / total : 1.0);
    return LATHE_OK;
}

/* The shared checks; fills m (rows) and n (features), and the weight in double. */
static int32_t prepare(lathe_call *call, const char *method, const DLTensor *weight, const DLTensor *a, const DLTensor *b,
                       int64_t *m, int64_t *n, double **w) {
    if (!LATHE_HAS_FIELD(call, lathe_call, input_abs_mean))
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s needs a host of ABI 1.3 or later (factorizers)", method);
    if (!lathe_is_f32_cpu(weight) || !lathe_is_f32_cpu(a) || !lathe_is_f32_cpu(b) || weight->ndim < 1 || a->ndim != 2 || b->ndim != 2)
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s: float32 CPU weight (rank >= 1) and factors a [out, K], b [K, D]", method);
    int64_t count = lathe_compact_count(weight);
    *m = weight->shape[0];
    if (count <= 0 || *m <= 0) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: the weight must be compact and non-empty", method);
    *n = count / *m;
    int64_t k = *m < *n ? *m : *n;
    if (a->shape[0] != *m || a->shape[1] != k || b->shape[0] != k || b->shape[1] != *n || lathe_compact_count(a) < 0 || lathe_compact_count(b) < 0)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: factors must be a [%lld, %lld] and b [%lld, %lld]", method, (long long)*m,
                           (long long)k, (long long)k, (long long)*n);
    *w = lathe_scratch(call, (size_t)count * sizeof(double));
    if (*w == NULL) return lathe_failf(call, LATHE_NO_MEMORY, "%s: no scratch memory", method);
    const float *src = (const float *)weight->data;
    for (int64_t i = 0; i < count; i++) (*w)[i] = src[i];
    return LATHE_OK;
}

int32_t lowrank_svd_method(lathe_call *call, const DLTensor *weight, DLTensor *a, DLTensor *b, int32_t rank_rule, float amount) {
    int64_t m = 0, n = 0;
    double *w = NULL;
    int32_t status = prepare(call, "lowrank/svd", weight, a, b, &m, &n, &w);
    if (status != LATHE_OK) return status;
    return factor(call, "lowrank/svd", w, m, n, rank_rule, amount, NULL, a, b);
}

int32_t lowrank_asvd_method(lathe_call *call, const DLTensor *weight, DLTensor *a, DLTensor *b, int32_t rank_rule, float amount,
                            float alpha) {
    int64_t m = 0, n = 0;
    double *w = NULL;
    int32_t status = prepare(call, "lowrank/asvd", weight, a, b, &m, &n, &w);
    if (status != LATHE_OK) return status;
    const DLTensor *stats = call->input_abs_mean;
    if (stats == NULL || !lathe_is_f32_cpu(stats) || stats->ndim != 2 || lathe_compact_count(stats) < 0)
        return lathe_fail(call, LATHE_UNSUPPORTED, "lowrank/asvd needs the input abs-mean statistics ([G, D] float32)");
    if (stats->shape[0] != 1 || stats->shape[1] != n)
        return lathe_failf(call, LATHE_UNSUPPORTED, "lowrank/asvd: statistics [%lld, %lld] for a weight of %lld features; grouped convs "
                           "(G > 1) are not factorized", (long long)stats->shape[0], (long long)stats->shape[1], (long long)n);
    double *scale = lathe_scratch(call, (size_t)n * sizeof(double));
    if (scale == NULL) return lathe_fail(call, LATHE_NO_MEMORY, "lowrank/asvd: no scratch memory");
    const float *x = (const float *)stats->data;
    for (int64_t q = 0; q < n; q++) {
        /* S = diag(mean|x_j|^α), floored so that S stays invertible for dead inputs. */
        scale[q] = pow(fmax((double)x[q], 1e-6), (double)alpha);
        for (int64_t r = 0; r < m; r++) w[r * n + q] *= scale[q];
    }
    return factor(call, "lowrank/asvd", w, m, n, rank_rule, amount, scale, a, b);
}
