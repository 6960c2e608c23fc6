/* lowrank_internal.h — declarations shared by the lowrank plugin's files (private). */
#ifndef LOWRANK_INTERNAL_H
#define LOWRANK_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <stdbool.h>
#include <stdint.h>

/** The rules that choose the rank (the `rank_rule` enum). */
enum { LOWRANK_RULE_MACS = 0, LOWRANK_RULE_ENERGY = 1, LOWRANK_RULE_RATIO = 2, LOWRANK_RULE_COUNT = 3 };

/** Thin SVD of the row-major m×n matrix `w` (double), k = min(m, n): w = Σ_j σ_j u_j v_jᵀ with
 *  σ sorted descending, u_j the columns of `u` (m×k row-major) and v_j the rows of `vt` (k×n).
 *  One-sided Jacobi (Hestenes) on the smaller dimension, in double. `work` holds
 *  (m·n + k·k) doubles. */
LATHE_SUPPORT_HIDDEN void lowrank_svd(const double *w, int64_t m, int64_t n, double *u, double *sigma, double *vt, double *work);

LATHE_SUPPORT_HIDDEN int32_t lowrank_svd_method(lathe_call *call, const DLTensor *weight, DLTensor *a, DLTensor *b,
                                                int32_t rank_rule, float amount);
LATHE_SUPPORT_HIDDEN int32_t lowrank_asvd_method(lathe_call *call, const DLTensor *weight, DLTensor *a, DLTensor *b,
                                                 int32_t rank_rule, float amount, float alpha);

#endif
