/*
 * distill.c — the `distill` plugin: feature and relation knowledge-distillation losses.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.0) only. Built by SwiftPM as
 * libLatheDistillLosses.so; standalone:
 *   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libdistill.so Plugins/c-distill/{distill,hint,attention,rkd,sp}.c Plugins/c-support/support.c -lm
 * Files: distill.c (descriptors), one file per loss, distill_internal.h (shared helpers).
 *
 * Methods (each: loss = a scalar, mean over the batch as stated; gradient w.r.t. the student)
 *   distill/hint          FEATURE   FitNets hint: mean squared error (Romero et al., ICLR 2015)
 *   distill/attention     RELATION  attention transfer (Zagoruyko & Komodakis, ICLR 2017)
 *   distill/rkd-distance  RELATION  RKD distance-wise loss (Park et al., CVPR 2019)
 *   distill/rkd-angle     RELATION  RKD angle-wise loss (Park et al., CVPR 2019)
 *   distill/sp            RELATION  similarity-preserving loss (Tung & Mori, ICCV 2019)
 * The formulas are in each method's `doc` string below (and so in registry/distill.toml).
 *
 * Conventions shared by every method
 *   - Inputs: float32 CPU tensors, student [B, ...] and teacher [B, ...] with the same B >= 1.
 *     The relation losses read each sample as a flat vector (its trailing dimensions
 *     multiplied); `attention` keeps the layout [B, C, spatial...].
 *   - Labels are ignored by every method here: the host checks them (int64 [B]) and this
 *     plugin checks their shape, but never reads a value. The label term (cross-entropy) is
 *     the host's, weighted by its `ce_weight`.
 *   - Everything is accumulated in double; outputs are rounded to float32 once.
 *   - Non-finite inputs are refused (LATHE_INVALID_ARGUMENT) with the offending element.
 *   - Deterministic (fixed loop order, no threads, no randomness) and thread-safe: nothing
 *     global is written; temporaries come from host->scratch and live for one call.
 *   - Vector normalisation follows torch.nn.functional.normalize: v / max(||v||, 1e-12). Where
 *     a vector is exactly zero its gradient is defined as 0 (see each method's note): the
 *     only case where these losses differ from autograd on the reference formula, which would
 *     divide by 1e-12 there.
 */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

#define FLAGS (LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC)

static const lathe_param attention_params[] = {
    {LATHE_HEAD(lathe_param), "p", LATHE_PARAM_F32,
     "exponent of the attention map sum_c |f_c|^p (the paper's p; 2 is its default)", 2.0, 1.0, 4.0, NULL, 0},
};

/** Appended to every method's doc: the labels policy. */
#define LABELS " Labels are ignored (checked as int64 [B], never read): the host adds the label term."

static const lathe_method methods[] = {
    {LATHE_HEAD(lathe_method), "hint", "FitNets hint (feature mean squared error)",
     "Feature maps of equal shape [B, ...] (the host puts a learnable 1x1-conv or linear adapter on the student when "
     "shapes differ: FitNets' regressor). loss = (1/N) sum (s - t)^2 over all N = B * (elements per sample), torch's "
     "F.mse_loss; gradient 2 (s - t) / N. FitNets' 1/2 ||.||^2 differs by a constant factor: use the term weight." LABELS,
     "Romero et al., FitNets: Hints for Thin Deep Nets, ICLR 2015", LATHE_KIND_LOSS, FLAGS, LATHE_GRANULARITY_NONE,
     LATHE_LOSS_FEATURE, NULL, 0, (lathe_function)hint},
    {LATHE_HEAD(lathe_method), "attention", "Attention transfer (activation-based)",
     "Per sample, attention map Q_j = sum_c |f_cj|^p over spatial positions j of [B, C, H, W] features ([B, D] is read "
     "as one channel of D positions); channel counts may differ (category relation, no adapter). When spatial extents "
     "differ, both maps are adaptively average-pooled to the smaller extent on each axis. a = Q / max(||Q||_2, 1e-12); "
     "loss = (1/B) sum_b ||a_s - a_t||_2^2. The authors' code averages (a_s - a_t)^2 over B*H*W with beta = 1000: that is "
     "this loss times 1000/(H*W). Gradient: analytic, through the normalisation, pooling and |f|^p." LABELS,
     "Zagoruyko & Komodakis, Paying More Attention to Attention, ICLR 2017", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, attention_params, 1, (lathe_function)attention},
    {LATHE_HEAD(lathe_method), "rkd-distance", "Relational KD, distance-wise",
     "Samples flattened to vectors, trailing sizes may differ. d_ij = ||x_i - x_j||_2, normalised by mu = the mean of "
     "the positive d_ij over ordered pairs (e = 0 if all are 0). loss = (1/B^2) sum_{i,j} huber(d^s_ij/mu_s - "
     "d^t_ij/mu_t), Huber with delta 1 (smooth L1). Paper weight: 25. Batches of one give 0." LABELS,
     "Park, Kim, Lu & Cho, Relational Knowledge Distillation, CVPR 2019", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, NULL, 0, (lathe_function)rkd_distance},
    {LATHE_HEAD(lathe_method), "rkd-angle", "Relational KD, angle-wise",
     "Samples flattened to vectors, trailing sizes may differ. For every triplet (i, j, k), cos_ijk = <n(x_i - x_j), "
     "n(x_k - x_j)> with n(v) = v / max(||v||_2, 1e-12). loss = (1/B^3) sum_{i,j,k} huber(cos^s_ijk - cos^t_ijk) over "
     "all B^3 triplets (degenerate ones give 0), Huber with delta 1. Paper weight: 50. Cost O(B^3 D)." LABELS,
     "Park, Kim, Lu & Cho, Relational Knowledge Distillation, CVPR 2019", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, NULL, 0, (lathe_function)rkd_angle},
    {LATHE_HEAD(lathe_method), "sp", "Similarity-preserving KD",
     "Samples flattened to F [B, D], trailing sizes may differ. G = F F^T with each row divided by max(its L2 norm, "
     "1e-12); loss = ||G_s - G_t||_F^2 / B^2. Paper weight (gamma): 3000." LABELS,
     "Tung & Mori, Similarity-Preserving Knowledge Distillation, ICCV 2019", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, NULL, 0, (lathe_function)sp},
};

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    if (registrar == NULL || registrar->register_method == NULL) return LATHE_INVALID_ARGUMENT;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) {
            char message[128];
            snprintf(message, sizeof message, "distill: registering distill/%s failed", methods[i].id);
            lathe_log(host, 3, message);
            return status;
        }
    }
    return LATHE_OK;
}

static const lathe_plugin plugin = {
    LATHE_HEAD(lathe_plugin), "distill", "1.0.0",
    "Feature and relation distillation losses: FitNets hint, attention transfer, RKD distance and angle, similarity-preserving",
    plugin_init, NULL,
};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }

