/* gptq.c — calib/gptq: optimal-brain-quantization of one layer from its input Gram matrix
 * (Frantar, Ashkboos, Hoefler & Alistarh, ICLR 2023), written from the paper's Algorithm 1. */
#include "calib_internal.h"


calib_grid calib_grid_of(const double *x, int64_t n, int64_t stride, int32_t bits, bool symmetric) {
    calib_grid g;
    if (symmetric) {
        double m = 0;
        for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(x[i * stride]));
        g.qmax = (1 << (bits - 1)) - 1;
        g.qmin = -g.qmax;
        g.zero = 0;
        g.scale = (float)(m / g.qmax);
        if (!(g.scale > 0) || !isfinite(g.scale)) g.scale = 1;
        return g;
    }
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, x[i * stride]);
        hi = fmax(hi, x[i * stride]);
    }
    g.qmin = 0;
    g.qmax = (1 << bits) - 1;
    g.scale = (float)((hi - lo) / g.qmax);
    if (!(g.scale > 0) || !isfinite(g.scale)) {
        g.scale = 1;
        g.zero = 0;
        return g;
    }
    double z = nearbyint(-lo / (double)g.scale);
    g.zero = (int32_t)fmin(fmax(z, 0), g.qmax);
    return g;
}

/* The columns of one group of output rows (those sharing one Gram matrix), solved in place:
 * w is rows×d (row-major, double), already in processing order; h its d×d Gram matrix in the
 * same order. Writes the quantized rows into q and each (row, group) grid into grids. */
typedef struct gptq_job {
    int64_t rows, d, block;
    int32_t bits, group_size;
    bool symmetric, static_groups;
    const int64_t *perm;      /* processing position -> original column */
    double *w, *q, *u, *err;  /* rows×d, rows×d, d×d, rows×block */
    calib_grid *grids;        /* rows × groups (original column groups) */
    int64_t groups;
    double loss;
} gptq_job;

static void gptq_run(gptq_job *j) {
    const int64_t rows = j->rows, d = j->d, B = j->block;
    for (int64_t i1 = 0; i1 < d; i1 += B) {
        int64_t i2 = i1 + B < d ? i1 + B : d, count = i2 - i1;
        for (int64_t i = i1; i < i2; i++) {
            int64_t column = j->perm[i];
            /* Groups follow the original columns. Without act-order (perm is the identity) a
             * group's grid comes from the current, already updated weights when its first column
             * is reached (as the paper does); with act-order they were fixed beforehand (static). */
            if (j->group_size > 0 && !j->static_groups && column % j->group_size == 0) {
                int64_t width = column + j->group_size <= d ? j->group_size : d - column;
                for (int64_t r = 0; r < rows; r++)
                    j->grids[r * j->groups + column / j->group_size] =
                        calib_grid_of(j->w + r * d + i, width, 1, j->bits, j->symmetric);
            }
            double dii = j->u[i * d + i];
            for (int64_t r = 0; r < rows; r++) {
                double *wr = j->w + r * d;
                calib_grid g = j->grids[r * j->groups + (j->group_size > 0 ? column / j->group_size : 0)];
                double qv = calib_round_to(g, wr[i]);
                j->q[r * d + i] = qv;
                double e = (wr[i] - qv) / dii;
                j->loss += e * e / 2;
                const double *ui = j->u + i * d;
                for (int64_t k = i + 1; k < i2; k++) wr[k] -= e * ui[k];
                j->err[r * B + (i - i1)] = e;
            }
        }
        /* The lazy batch update of every later column: W[:, i2:] -= Err · U[i1:i2, i2:]. */
        if (i2 < d) {
            for (int64_t r = 0; r < rows; r++) {
                double *wr = j->w + r * d;
                for (int64_t k = 0; k < count; k++) {
                    double e = j->err[r * B + k];
                    const double *uk = j->u + (i1 + k) * d;
                    for (int64_t c = i2; c < d; c++) wr[c] -= e * uk[c];
                }
            }
        }
    }
}

int32_t calib_gptq(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask, int32_t bits,
                   int32_t group_size, bool symmetric, bool act_order, float damp, int32_t block_size) {
    (void)mask;
    if (!LATHE_HAS_FIELD(call, lathe_call, calibration_rows))
        return lathe_fail(call, LATHE_UNSUPPORTED, "calib/gptq needs a host of ABI 1.2 or later (calibration statistics)");
    if (!lathe_is_f32_cpu(weight) || !lathe_is_f32_cpu(new_weight) || weight->ndim < 1)
        return lathe_fail(call, LATHE_UNSUPPORTED, "calib/gptq solves a float32 CPU weight of rank >= 1");
    int64_t count = lathe_compact_count(weight);
    if (count <= 0 || lathe_compact_count(new_weight) != count)
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "calib/gptq: W' must be compact and shaped like the weight");
    int64_t out = weight->shape[0], d = count / out, groups_g = 1;
    int32_t status = LATHE_OK;
    const float *gram = calib_statistics(call, call->input_gram, "gram", out, d, true, &groups_g, &status);
    if (gram == NULL) return status;
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(((const float *)weight->data)[i]))
            return lathe_fail(call, LATHE_INVALID_ARGUMENT, "calib/gptq: the weight holds a non-finite value");

    int64_t rows_per = out / groups_g, block = block_size < d ? block_size : d;
    int64_t col_groups = group_size > 0 ? (d + group_size - 1) / group_size : 1;
    size_t dd = (size_t)d * (size_t)d;
    double *h = lathe_scratch(call, dd * sizeof(double)), *u = lathe_scratch(call, dd * sizeof(double));
    double *work = lathe_scratch(call, dd * sizeof(double));
    double *w = lathe_scratch(call, (size_t)rows_per * d * sizeof(double)), *q = lathe_scratch(call, (size_t)rows_per * d * sizeof(double));
    double *err = lathe_scratch(call, (size_t)rows_per * block * sizeof(double));
    int64_t *perm = lathe_scratch(call, (size_t)d * sizeof(int64_t));
    double *diag = lathe_scratch(call, (size_t)d * sizeof(double));
    calib_grid *grids = lathe_scratch(call, (size_t)out * col_groups * sizeof(calib_grid));
    if (!h || !u || !work || !w || !q || !err || !perm || !diag || !grids)
        return lathe_fail(call, LATHE_NO_MEMORY, "calib/gptq: no scratch memory for the solve");

    const float *W = (const float *)weight->data;
    float *out_w = (float *)new_weight->data;
    double loss = 0, used_damp = damp, dead = 0;
    for (int64_t g = 0; g < groups_g; g++) {
        const float *hg = gram + (size_t)g * dd;
        const float *Wg = W + (size_t)g * rows_per * d;
        /* Dead inputs (H_jj = 0) carry no information: their weights go to 0 and H_jj to 1. */
        for (int64_t i = 0; i < d; i++) diag[i] = hg[i * d + i];
        for (int64_t i = 0; i < d; i++) {
            perm[i] = i;
            if (!(diag[i] > 0)) dead++;
        }
        if (act_order) {
            /* Descending diag(H), ties by column: insertion sort is fine for these sizes. */
            for (int64_t i = 1; i < d; i++) {
                int64_t p = perm[i], k = i - 1;
                while (k >= 0 && diag[perm[k]] < diag[p]) {
                    perm[k + 1] = perm[k];
                    k--;
                }
                perm[k + 1] = p;
            }
        }
        for (int64_t r = 0; r < rows_per; r++)
            for (int64_t i = 0; i < d; i++) w[r * d + i] = diag[perm[i]] > 0 ? (double)Wg[r * d + perm[i]] : 0;
        /* Static groups (act-order): each row's group grids from the original weights. */
        if (group_size > 0 && act_order) {
            for (int64_t r = 0; r < rows_per; r++)
                for (int64_t c = 0; c < col_groups; c++) {
                    int64_t start = c * group_size, width = start + group_size <= d ? group_size : d - start;
                    double tmp[4096];
                    for (int64_t k = 0; k < width; k++) tmp[k] = diag[start + k] > 0 ? (double)Wg[r * d + start + k] : 0;
                    grids[(g * rows_per + r) * col_groups + c] = calib_grid_of(tmp, width, 1, bits, symmetric);
                }
        } else if (group_size == 0) {
            for (int64_t r = 0; r < rows_per; r++)
                grids[(g * rows_per + r) * col_groups] = calib_grid_of(w + r * d, d, 1, bits, symmetric);
        }
        if (calib_damped_inverse(call, "calib/gptq", hg, diag, perm, d, damp, h, u, work, &used_damp) != 0) return LATHE_INVALID_ARGUMENT;
        gptq_job job = {rows_per, d, block, bits, group_size, symmetric, act_order && group_size > 0, perm, w, q, u, err,
                        grids + g * rows_per * col_groups, col_groups, 0};
        gptq_run(&job);
        loss += job.loss;
        for (int64_t r = 0; r < rows_per; r++)
            for (int64_t i = 0; i < d; i++) out_w[(g * rows_per + r) * d + perm[i]] = (float)q[r * d + i];
    }
    calib_metric(call, "damping", used_damp);
    calib_metric(call, "dead_inputs", dead);
    calib_metric(call, "loss", loss);
    /* The grid of every (row, group): per row (axis 0), or groups of group_size along a row. */
    size_t n_scales = (size_t)out * col_groups;
    float *scales = lathe_scratch(call, n_scales * sizeof(float));
    int32_t *zeros = lathe_scratch(call, n_scales * sizeof(int32_t));
    if (!scales || !zeros) return lathe_fail(call, LATHE_NO_MEMORY, "calib/gptq: no scratch memory for the grid");
    for (size_t i = 0; i < n_scales; i++) {
        scales[i] = grids[i].scale;
        zeros[i] = grids[i].zero;
    }
    lathe_qparams qp = {LATHE_HEAD(lathe_qparams)};
    qp.scheme = symmetric ? LATHE_QSCHEME_SYMMETRIC : LATHE_QSCHEME_AFFINE;
    qp.bits = bits;
    qp.axis = 0;
    qp.qmin = symmetric ? -((1 << (bits - 1)) - 1) : 0;
    qp.qmax = symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    qp.count = (uint32_t)n_scales;
    qp.scales = scales;
    qp.zero_points = symmetric ? NULL : zeros;
    qp.group_size = group_size;
    qp.element_format = LATHE_ELEMENT_INT;
    qp.scale_format = LATHE_SCALE_FP32;
    return lathe_report_qparams(call, &qp);
}
