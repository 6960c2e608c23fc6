/* sparsegpt.c — calib/sparsegpt (Frantar & Alistarh, ICML 2023) and calib/obs-magnitude, its
 * baseline with the mask fixed by magnitude beforehand: both prune with the OBS update of the
 * remaining weights through the upper Cholesky factor of the damped inverse Gram matrix. */
#include "calib_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct order_item {
    double key;
    int64_t index;
} order_item;

static int by_key(const void *a, const void *b) {
    const order_item *x = a, *y = b;
    if (x->key < y->key) return -1;
    if (x->key > y->key) return 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Marks the `prune` lowest keys of items[0..n) as pruned in keep[] (keep[items[i].index] = 0). */
static void prune_lowest(order_item *items, int64_t n, int64_t prune, uint8_t *keep) {
    qsort(items, (size_t)n, sizeof *items, by_key);
    for (int64_t i = 0; i < prune && i < n; i++) keep[items[i].index] = 0;
}

typedef enum { SELECT_SALIENCY, SELECT_MAGNITUDE } selection;

static int32_t sparse_solve(lathe_call *call, const char *method, selection select, const DLTensor *weight, DLTensor *new_weight,
                            DLTensor *mask, float sparsity, int32_t nm_keep, int32_t nm_group, int32_t block_size, float damp) {
    if (!LATHE_HAS_FIELD(call, lathe_call, calibration_rows))
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s needs a host of ABI 1.2 or later (calibration statistics)", method);
    if (!lathe_is_f32_cpu(weight) || !lathe_is_f32_cpu(new_weight) || mask == NULL || !lathe_is_f32_cpu(mask) || weight->ndim < 1)
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s solves a float32 CPU weight of rank >= 1 into W' and a mask", method);
    int64_t count = lathe_compact_count(weight);
    if (count <= 0 || lathe_compact_count(new_weight) != count || lathe_compact_count(mask) != count)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: W' and the mask must be compact and shaped like the weight", method);
    int64_t out = weight->shape[0], d = count / out, groups_g = 1;
    bool nm = nm_keep > 0;
    if (nm && d % nm_group != 0)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: rows of %lld weights do not split into groups of %d", method, (long long)d,
                           nm_group);
    int32_t status = LATHE_OK;
    const float *gram = calib_statistics(call, call->input_gram, "gram", out, d, true, &groups_g, &status);
    if (gram == NULL) return status;
    const float *W = (const float *)weight->data;
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(W[i])) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: the weight holds a non-finite value", method);

    int64_t rows = out / groups_g, block = block_size < d ? block_size : d;
    if (nm) block = block < nm_group ? nm_group : block / nm_group * nm_group; /* N:M groups never straddle blocks */
    size_t dd = (size_t)d * (size_t)d;
    double *h = lathe_scratch(call, dd * sizeof(double)), *u = lathe_scratch(call, dd * sizeof(double));
    double *work = lathe_scratch(call, dd * sizeof(double)), *w = lathe_scratch(call, (size_t)rows * d * sizeof(double));
    double *err = lathe_scratch(call, (size_t)rows * block * sizeof(double)), *diag = lathe_scratch(call, (size_t)d * sizeof(double));
    int64_t *perm = lathe_scratch(call, (size_t)d * sizeof(int64_t));
    uint8_t *keep = lathe_scratch(call, (size_t)rows * d);
    order_item *items = lathe_scratch(call, (size_t)rows * (size_t)(d > block ? d : block) * sizeof(order_item));
    if (!h || !u || !work || !w || !err || !diag || !perm || !keep || !items)
        return lathe_failf(call, LATHE_NO_MEMORY, "%s: no scratch memory for the solve", method);

    float *out_w = (float *)new_weight->data, *out_m = (float *)mask->data;
    double loss = 0, used_damp = damp, dead = 0;
    for (int64_t g = 0; g < groups_g; g++) {
        const float *hg = gram + (size_t)g * dd;
        const float *Wg = W + (size_t)g * rows * d;
        for (int64_t i = 0; i < d; i++) {
            diag[i] = hg[i * d + i];
            perm[i] = i;
            if (!(diag[i] > 0)) dead++;
        }
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < d; i++) w[r * d + i] = diag[i] > 0 ? (double)Wg[r * d + i] : 0;
        if (calib_damped_inverse(call, method, hg, diag, perm, d, damp, h, u, work, &used_damp) != 0) return LATHE_INVALID_ARGUMENT;
        memset(keep, 1, (size_t)rows * d);
        if (select == SELECT_MAGNITUDE) {
            /* The mask from |W| beforehand: the layer's lowest fraction, or the N:M pattern. */
            if (nm) {
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t c = 0; c < d; c += nm_group) {
                        for (int64_t k = 0; k < nm_group; k++) items[k] = (order_item){fabs(w[r * d + c + k]), r * d + c + k};
                        prune_lowest(items, nm_group, nm_group - nm_keep, keep);
                    }
            } else {
                for (int64_t i = 0; i < rows * d; i++) items[i] = (order_item){fabs(w[i]), i};
                prune_lowest(items, rows * d, (int64_t)floor((double)sparsity * (double)(rows * d) + 0.5), keep);
            }
        }
        for (int64_t i1 = 0; i1 < d; i1 += block) {
            int64_t i2 = i1 + block < d ? i1 + block : d, width = i2 - i1;
            if (select == SELECT_SALIENCY && !nm) {
                /* Adaptive mask selection: the block's lowest w²/U_jj² over every row, on the
                 * weights as the earlier blocks' updates left them. */
                int64_t n = 0;
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t c = i1; c < i2; c++) {
                        double s = w[r * d + c] / u[c * d + c];
                        items[n++] = (order_item){s * s, r * d + c};
                    }
                prune_lowest(items, n, (int64_t)floor((double)sparsity * (double)n + 0.5), keep);
            }
            for (int64_t i = i1; i < i2; i++) {
                if (select == SELECT_SALIENCY && nm && i % nm_group == 0) {
                    for (int64_t r = 0; r < rows; r++) {
                        for (int64_t k = 0; k < nm_group; k++) {
                            double s = w[r * d + i + k] / u[(i + k) * d + i + k];
                            items[k] = (order_item){s * s, r * d + i + k};
                        }
                        prune_lowest(items, nm_group, nm_group - nm_keep, keep);
                    }
                }
                const double *ui = u + i * d;
                for (int64_t r = 0; r < rows; r++) {
                    double *wr = w + r * d;
                    double e = keep[r * d + i] ? 0 : wr[i] / ui[i];
                    if (!keep[r * d + i]) {
                        loss += e * e / 2;
                        wr[i] = 0;
                        for (int64_t k = i + 1; k < i2; k++) wr[k] -= e * ui[k];
                    }
                    err[r * block + (i - i1)] = e;
                }
            }
            if (i2 < d) {
                for (int64_t r = 0; r < rows; r++) {
                    double *wr = w + r * d;
                    for (int64_t k = 0; k < width; k++) {
                        double e = err[r * block + k];
                        if (e == 0) continue;
                        const double *uk = u + (i1 + k) * d;
                        for (int64_t c = i2; c < d; c++) wr[c] -= e * uk[c];
                    }
                }
            }
        }
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < d; i++) {
                size_t at = (size_t)(g * rows + r) * d + i;
                out_m[at] = keep[r * d + i] ? 1.0f : 0.0f;
                out_w[at] = keep[r * d + i] ? (float)w[r * d + i] : 0.0f;
                if (!isfinite(out_w[at]))
                    return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s: the updated weights overflow float32 (weights too large)", method);
            }
    }
    calib_metric(call, "damping", used_damp);
    calib_metric(call, "dead_inputs", dead);
    calib_metric(call, "loss", loss);
    return LATHE_OK;
}

int32_t calib_sparsegpt(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask, float sparsity, int32_t pattern,
                        int32_t block_size, float damp) {
    return sparse_solve(call, "calib/sparsegpt", SELECT_SALIENCY, weight, new_weight, mask, sparsity, calib_pattern_n[pattern],
                        calib_pattern_m[pattern], block_size, damp);
}

int32_t calib_obs_magnitude(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask, float sparsity,
                            int32_t pattern, float damp) {
    return sparse_solve(call, "calib/obs-magnitude", SELECT_MAGNITUDE, weight, new_weight, mask, sparsity, calib_pattern_n[pattern],
                        calib_pattern_m[pattern], 128, damp);
}
