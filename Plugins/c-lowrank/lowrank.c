/*
 * lowrank.c — the `lowrank` plugin: factorizers (ABI 1.3), the fourth method family. Each
 * replaces a layer's weight W (viewed as [out, D]) by A·B of a rank it chooses; the host then
 * replaces the layer by two (linear -> linear, or a k×k conv with r outputs -> a 1×1 conv).
 *
 * Written in C11 against lathe_plugin.h (ABI 1.3). Built by SwiftPM as libLatheLowRank.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o liblowrank.so Plugins/c-lowrank/{lowrank,svd}.c Plugins/c-support/{support,context}.c -lm
 *
 * Methods
 *   lowrank/svd    truncated SVD: W ≈ U_r Σ_r V_rᵀ, A = U_r √Σ_r, B = √Σ_r V_rᵀ — the low-rank
 *                  decomposition of Denton et al., NIPS 2014 (for convs the channel decomposition
 *                  of Zhang et al., TPAMI 2016: a k×k conv with r filters, then a 1×1 conv)
 *   lowrank/asvd   activation-aware SVD: the SVD of W·S with S = diag(mean|x_j|^α), then
 *                  B = √Σ_r V_rᵀ S⁻¹ — Yuan et al., ASVD, arXiv:2312.05821
 */
#include "lowrank_internal.h"

#if LATHE_ABI_MINOR >= 3
static const char *const rule_names[LOWRANK_RULE_COUNT] = {"macs", "energy", "ratio"};

static const lathe_param svd_params[] = {
    {LATHE_HEAD(lathe_param), "rank_rule", LATHE_PARAM_ENUM,
     "macs: the largest r with r·(out + D) <= amount·out·D (amount of the layer's MACs and weights); energy: the "
     "smallest r keeping amount of Σσ²; ratio: r = round(amount·min(out, D))", 0, 0, 0, rule_names, LOWRANK_RULE_COUNT},
    {LATHE_HEAD(lathe_param), "amount", LATHE_PARAM_F32, "the rule's fraction (of MACs, of energy, or of the full rank)", 0.5, 0.001,
     1, NULL, 0},
};

static const lathe_param asvd_params[] = {
    svd_params[0],
    svd_params[1],
    {LATHE_HEAD(lathe_param), "alpha", LATHE_PARAM_F32, "exponent α of S = diag(mean|x_j|^α); 0 is plain SVD", 0.5, 0, 2, NULL, 0},
};

static const char svd_doc[] =
    "Truncated SVD of the weight viewed as [out, D] (a conv's D = C·k·k), computed in double by "
    "one-sided Jacobi: W ≈ Σ_{j<r} σ_j u_j v_jᵀ, split evenly as A = U_r·√Σ_r [out, r] and "
    "B = √Σ_r·V_rᵀ [r, D]; the squared Frobenius error is Σ_{j>=r} σ_j². The rank follows "
    "rank_rule. Metrics: rank, kept_energy (Σ_{j<r} σ_j² / Σ σ_j²).";

static const char asvd_doc[] =
    "Activation-aware SVD: with S = diag(s_j), s_j = mean|x_j|^α over the calibration rows "
    "(floored at 1e-6, a conv's unfolded features), the SVD of W·S is truncated and S is divided "
    "back out: A = U_r·√Σ_r, B = √Σ_r·V_rᵀ·S⁻¹, so that columns that meet large inputs are "
    "kept more precisely. The rank rule applies to the singular values of W·S. Grouped convs are "
    "refused. Metrics: rank, kept_energy (of W·S).";

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "svd", "Truncated SVD (low-rank factorization)", svd_doc,
         "Denton, Zaremba, Bruna, LeCun & Fergus, Exploiting Linear Structure Within Convolutional Networks for Efficient "
         "Evaluation, NIPS 2014; Zhang, Zou, He & Sun, Accelerating Very Deep Convolutional Networks for Classification and "
         "Detection, TPAMI 2016",
         LATHE_KIND_FACTORIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
         svd_params, 2, (lathe_function)lowrank_svd_method, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "asvd", "ASVD: activation-aware SVD", asvd_doc,
         "Yuan, Shang, Song, Wu, Yan & Sun, ASVD: Activation-aware Singular Value Decomposition for Compressing Large "
         "Language Models, arXiv:2312.05821",
         LATHE_KIND_FACTORIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_ABS_MEAN,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, asvd_params, 3, (lathe_function)lowrank_asvd_method, NULL, 0, NULL, NULL},
    };
    return lathe_register_methods(host, registrar, "lowrank", methods, sizeof methods / sizeof methods[0]);
}
#else
static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    (void)registrar;
    return LATHE_UNSUPPORTED; /* factorizers need ABI 1.3 */
}
#endif

static const lathe_plugin lowrank_plugin = {
    LATHE_HEAD(lathe_plugin),
    "lowrank",
    "1.0.0",
    "Low-rank factorization of conv and linear layers: SVD, activation-aware SVD",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &lowrank_plugin; }
