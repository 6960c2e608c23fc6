/* calib_internal.h — declarations shared by the calib plugin's files (private). */
#ifndef CALIB_INTERNAL_H
#define CALIB_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/** A [G, D] (or [G, D, D] when `gram`) statistics tensor of the call, checked against a weight
 *  of `out` rows and `features` elements per row: float32, CPU, compact, G dividing `out`.
 *  `which` names it in messages. Returns the data, or NULL after reporting the failure into
 *  `*status`. `*groups` receives G. */
LATHE_SUPPORT_HIDDEN const float *calib_statistics(lathe_call *call, const DLTensor *t, const char *which, int64_t out,
                                                   int64_t features, bool gram, int64_t *groups, int32_t *status);

/** In-place lower Cholesky factor of the symmetric n×n `a` (upper triangle zeroed); -1 if `a`
 *  is not positive definite (in floating point). */
LATHE_SUPPORT_HIDDEN int calib_cholesky(double *a, int64_t n);

/** U, upper triangular with H⁻¹ = Uᵀ·U (GPTQ's "Cholesky of the inverse Hessian"), for positive
 *  definite H; `work` holds n·n doubles. -1 if H is not positive definite. */
LATHE_SUPPORT_HIDDEN int calib_inverse_upper_cholesky(const double *h, double *u, double *work, int64_t n);

/** U for the damped Gram matrix of one group of rows, in processing order `perm`: dead inputs
 *  (diag ≤ 0) become identity rows and columns, λ = damp·mean(diag H) is added to the diagonal and
 *  raised tenfold (up to mean(diag H)) while H + λI is not positive definite (logged); `used_damp`
 *  receives the largest relative damping used. -1 after reporting the failure (named `method`). */
LATHE_SUPPORT_HIDDEN int calib_damped_inverse(lathe_call *call, const char *method, const float *gram, const double *diag,
                                              const int64_t *perm, int64_t d, float damp, double *h, double *u, double *work,
                                              double *used_damp);

/** host->report_metric when the host has it and the value is finite. */
LATHE_SUPPORT_HIDDEN void calib_metric(lathe_call *call, const char *name, double value);

/** The uniform grid GPTQ rounds one row (or one group of a row) to. */
typedef struct calib_grid {
    float scale;
    int32_t zero;  /**< zero point (0 when symmetric) */
    int32_t qmin, qmax;
} calib_grid;

/** The grid of values x[0..n): affine min-max (the range widened to hold 0; 2^bits codes, as
 *  uniform/affine) or symmetric restricted (±(2^(bits-1) − 1), as uniform/symmetric and
 *  formats/int_group). A zero range gives scale 1. */
LATHE_SUPPORT_HIDDEN calib_grid calib_grid_of(const double *x, int64_t n, int64_t stride, int32_t bits, bool symmetric);

/** x rounded to the grid (ties to even). */
static inline double calib_round_to(calib_grid g, double x) {
    double q = nearbyint(x / (double)g.scale) + g.zero;
    if (q < g.qmin) q = g.qmin;
    if (q > g.qmax) q = g.qmax;
    return (double)(float)((q - g.zero) * (double)g.scale);
}

LATHE_SUPPORT_HIDDEN int32_t calib_gptq(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask,
                                        int32_t bits, int32_t group_size, bool symmetric, bool act_order, float damp,
                                        int32_t block_size);

/** The sparsity patterns of the pruning solvers (the `pattern` enum): unstructured, then N-M. */
enum { CALIB_PATTERN_COUNT = 5 };
static const int32_t calib_pattern_n[CALIB_PATTERN_COUNT] = {0, 2, 4, 1, 2};
static const int32_t calib_pattern_m[CALIB_PATTERN_COUNT] = {0, 4, 8, 4, 8};

LATHE_SUPPORT_HIDDEN int32_t calib_sparsegpt(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask,
                                             float sparsity, int32_t pattern, int32_t block_size, float damp);

LATHE_SUPPORT_HIDDEN int32_t calib_obs_magnitude(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask,
                                                 float sparsity, int32_t pattern, float damp);

LATHE_SUPPORT_HIDDEN int32_t calib_wanda(lathe_call *call, const DLTensor *weight, const DLTensor *gradient,
                                         const DLTensor *aux, DLTensor *scores, float activation_power);

#if LATHE_ABI_MINOR >= 3
LATHE_SUPPORT_HIDDEN int32_t calib_smoothquant(lathe_call *call, const DLTensor *weight, DLTensor *scales, float alpha);
LATHE_SUPPORT_HIDDEN int32_t calib_awq(lathe_call *call, const DLTensor *weight, DLTensor *scales, float alpha);
LATHE_SUPPORT_HIDDEN int32_t calib_awq_clip(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t grid,
                                            float max_shrink);
#endif

#endif
