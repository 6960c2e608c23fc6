/*
 * distill.c — the `distill` plugin: response, feature and relation knowledge-distillation losses.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.1; dkd reads the call's epoch, crd has learnables and
 * state: both fields are tested with LATHE_HAS_FIELD, so a 1.0 host runs dkd without warm-up and
 * refuses crd with a message). Built by SwiftPM as
 * libLatheDistillLosses.so; standalone:
 *   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libdistill.so Plugins/c-distill/{distill,hint,attention,cwd,attention_map,rkd,sp,dkd,crd}.c Plugins/c-support/{support,context}.c -lm
 * Files: distill.c (descriptors), one file per loss, distill_internal.h (shared helpers).
 *
 * Methods (each: loss = a scalar, mean over the batch as stated; gradient w.r.t. the student)
 *   distill/hint          FEATURE   FitNets hint: mean squared error (Romero et al., ICLR 2015)
 *   distill/attention     RELATION  attention transfer (Zagoruyko & Komodakis, ICLR 2017)
 *   distill/cwd           FEATURE   channel-wise distillation for dense prediction (Shu et al., ICCV 2021)
 *   distill/attention-map RELATION  self-attention distribution transfer (Wang et al., MiniLM, NeurIPS 2020)
 *   distill/rkd-distance  RELATION  RKD distance-wise loss (Park et al., CVPR 2019)
 *   distill/rkd-angle     RELATION  RKD angle-wise loss (Park et al., CVPR 2019)
 *   distill/sp            RELATION  similarity-preserving loss (Tung & Mori, ICCV 2019)
 *   distill/dkd           RESPONSE  decoupled KD, TCKD + NCKD with warm-up (Zhao et al., CVPR 2022)
 *   distill/crd           RELATION  contrastive representation distillation (Tian et al., ICLR 2020)
 * The formulas are in each method's `doc` string below (and so in registry/distill.toml).
 *
 * Conventions shared by every method
 *   - Inputs: float32 CPU tensors, student [B, ...] and teacher [B, ...] with the same B >= 1.
 *     The relation losses read each sample as a flat vector (its trailing dimensions
 *     multiplied); `attention` keeps the layout [B, C, spatial...].
 *   - Labels are ignored by every method here but dkd (which reads each sample's target class):
 *     the host checks them (int64 [B]) and this plugin checks their shape. The label term (cross-entropy) is
 *     the host's, weighted by its `ce_weight`.
 *   - Everything is accumulated in double; outputs are rounded to float32 once.
 *   - Non-finite inputs are refused (LATHE_INVALID_ARGUMENT) with the offending element.
 *   - Deterministic (fixed loop order, no threads, no randomness) and thread-safe: nothing
 *     global is written; temporaries come from host->scratch and live for one call. Except
 *     crd, whose memory banks and sampler live in host->state (the host serializes its calls).
 *   - Vector normalisation follows torch.nn.functional.normalize: v / max(||v||, 1e-12). Where
 *     a vector is exactly zero its gradient is defined as 0 (see each method's note): the
 *     only case where these losses differ from autograd on the reference formula, which would
 *     divide by 1e-12 there.
 */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

#define FLAGS (LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC)

/* dkd and crd need ABI 1.1 (the call's epoch; learnables and state): built against an older header
 * the plugin has the 1.0 methods only. */
#if LATHE_ABI_MINOR >= 1
static const lathe_param dkd_params[] = {
    {LATHE_HEAD(lathe_param), "alpha", LATHE_PARAM_F32, "weight of TCKD (the paper: 1)", 1.0, 0.0, 100.0, NULL, 0},
    {LATHE_HEAD(lathe_param), "beta", LATHE_PARAM_F32, "weight of NCKD (the paper: 8 on CIFAR-100, 0.5 on ImageNet)", 8.0, 0.0,
     100.0, NULL, 0},
    {LATHE_HEAD(lathe_param), "temperature", LATHE_PARAM_F32, "softmax temperature T (the paper: 4)", 4.0, 0.1, 100.0, NULL, 0},
    {LATHE_HEAD(lathe_param), "warmup", LATHE_PARAM_I32,
     "epochs of linear warm-up of the loss (the paper: 20); 0 = none", 20.0, 0.0, 10000.0, NULL, 0},
};

static const lathe_param crd_params[] = {
    {LATHE_HEAD(lathe_param), "feat_dim", LATHE_PARAM_I32,
     "embedding size E of both heads (the paper: 128; at least 16: on a lower-dimensional unit sphere the contrast at "
     "temperature 0.07 is too sharp to train, and one element is only a sign, with no gradient)", 128.0, 16.0, 4096.0,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "nce_k", LATHE_PARAM_I32, "negatives K drawn from the memory bank per sample (the paper: 16384)",
     16384.0, 1.0, 1048576.0, NULL, 0},
    {LATHE_HEAD(lathe_param), "temperature", LATHE_PARAM_F32, "NCE temperature tau (the paper: 0.07)", 0.07, 0.001, 10.0, NULL, 0},
    {LATHE_HEAD(lathe_param), "momentum", LATHE_PARAM_F32, "memory-bank momentum (the paper: 0.5)", 0.5, 0.0, 1.0, NULL, 0},
    {LATHE_HEAD(lathe_param), "seed", LATHE_PARAM_I32, "seed of the head initialisation, the bank initialisation and the sampler",
     0.0, 0.0, 2147483647.0, NULL, 0},
};

static const lathe_learnable crd_learnables[] = {
    {LATHE_HEAD(lathe_learnable), "student_head", LATHE_SHAPE_STUDENT_PROJECTION, "feat_dim",
     "linear embedding of the student's features [E, student elements per sample]"},
    {LATHE_HEAD(lathe_learnable), "student_bias", LATHE_SHAPE_VECTOR, "feat_dim", "its bias [E]"},
    {LATHE_HEAD(lathe_learnable), "teacher_head", LATHE_SHAPE_TEACHER_PROJECTION, "feat_dim",
     "linear embedding of the teacher's features [E, teacher elements per sample]"},
    {LATHE_HEAD(lathe_learnable), "teacher_bias", LATHE_SHAPE_VECTOR, "feat_dim", "its bias [E]"},
};
#endif

static const lathe_param attention_params[] = {
    {LATHE_HEAD(lathe_param), "p", LATHE_PARAM_F32,
     "exponent of the attention map sum_c |f_c|^p (the paper's p; 2 is its default)", 2.0, 1.0, 4.0, NULL, 0},
};

static const lathe_param cwd_params[] = {
    {LATHE_HEAD(lathe_param), "temperature", LATHE_PARAM_F32,
     "softmax temperature tau (the authors' configurations: 1)", 1.0,
     0.1, 100.0, NULL, 0},
};

static const lathe_param attention_map_params[] = {
    {LATHE_HEAD(lathe_param), "per_head", LATHE_PARAM_I32,
     "1: head by head, as MiniLM (equal head counts); 0: the heads averaged first (any head counts)", 1.0, 0.0, 1.0, NULL, 0},
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
    {LATHE_HEAD(lathe_method), "cwd", "Channel-wise distillation (dense prediction)",
     "Maps of equal shape [B, C, spatial...] (the host puts a learnable 1x1-conv adapter on the student when channel "
     "counts differ, as the paper does); per sample b and channel c the spatial positions form one distribution: q = "
     "softmax(t_bc / tau), p = softmax(s_bc / tau). loss = tau^2 / (B C) sum_{b,c} KL(q_bc || p_bc), the authors' code "
     "(mmrazor's ChannelWiseDivergence) exactly; gradient tau (p - q) / (B C). Softmaxes in double with the maximum "
     "subtracted. Made for dense outputs (segmentation logits, detection heatmaps, pyramid features); the authors' "
     "configurations weight it 3 on segmentation logits and 5 on each detector pyramid level (tau 1)." LABELS,
     "Shu, Liu, Gao, Yan & Shen, Channel-wise Knowledge Distillation for Dense Prediction, ICCV 2021", LATHE_KIND_LOSS,
     FLAGS, LATHE_GRANULARITY_NONE, LATHE_LOSS_FEATURE, cwd_params, 1, (lathe_function)cwd},
    {LATHE_HEAD(lathe_method), "attention-map", "Self-attention distribution transfer (transformers)",
     "Attention maps [B, H, T, T] of a transformer block (the softmax probabilities: a ViT tap blocks.N.attn.map), rows "
     "= one query's distribution over the T keys; T must match, widths may differ (category relation, no adapter). "
     "per_head = 1: loss = (1/(B H T)) sum_{b,h,i} KL(P_bhi || Q_bhi), P the teacher's rows and Q the student's, as "
     "MiniLM (which transfers the last block's maps; equal head counts). per_head = 0 averages each side's heads first, "
     "so head counts may differ: loss = (1/(B T)) sum_{b,i} KL(P~_bi || Q~_bi) (Lathe's extension, not the paper's). "
     "KL uses log max(x, 1e-12); gradient -P/Q scaled likewise (0 where Q < 1e-12). Negative inputs are refused." LABELS,
     "Wang, Wei, Dong, Bao, Yang & Zhou, MiniLM: Deep Self-Attention Distillation for Task-Agnostic Compression of "
     "Pre-Trained Transformers, NeurIPS 2020", LATHE_KIND_LOSS, FLAGS, LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION,
     attention_map_params, 1, (lathe_function)attention_map},
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
#if LATHE_ABI_MINOR >= 1
    {LATHE_HEAD(lathe_method), "dkd", "Decoupled knowledge distillation (TCKD + NCKD)",
     "Logits [B, K], K >= 2; labels give each sample's target class g. z = s/T, u = t/T, p = softmax(z), q = softmax(u). "
     "TCKD = KL((q_g, 1 - q_g) || (p_g, 1 - p_g)) (target vs all non-targets); NCKD = KL(q^ || p^), p^ and q^ the "
     "softmaxes over the K - 1 non-target classes (the target masked out). loss = w * T^2 * (1/B) sum_b (alpha TCKD + "
     "beta NCKD), the authors' code exactly (their -1000 mask is an exact exclusion here). Warm-up w = min((epoch + 1) / "
     "warmup, 1) from the call's 0-based epoch (the authors' min(epoch / warmup, 1) with 1-based epochs); w = 1 outside "
     "training (epoch -1) and with warmup 0. Gradient (analytic, log domain): w T / B times alpha (p_g - q_g) at g and "
     "alpha p^_j (q_g - p_g) + beta (p^_j - q^_j) elsewhere. The label term (cross-entropy) is the host's.",
     "Zhao, Cui, Song, Qiu & Liang, Decoupled Knowledge Distillation, CVPR 2022", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RESPONSE, dkd_params, 4, (lathe_function)dkd},
    {LATHE_HEAD(lathe_method), "crd", "Contrastive representation distillation",
     "Samples flattened, trailing sizes may differ. Learnable heads: v_s = normalize(W_s f_s + b_s), v_t = "
     "normalize(W_t f_t + b_t), feat_dim each, initialised like torch's nn.Linear (uniform +-1/sqrt(fan in), from seed). "
     "Training batches (the call carries sample indices and the dataset size): the authors' NCE with two memory banks of "
     "dataset_size x feat_dim unit rows in the host's state (initialised uniform +-sqrt(3/feat_dim)); per sample the "
     "positive is its own bank row and nce_k negatives are drawn uniformly with replacement (the authors' sampler without "
     "class-aware indices); x = exp(<row, v>/tau)/Z, Z = n * mean x of the first batch, then fixed; loss = -(1/B) sum_b "
     "[log(x_0/(x_0 + c)) + sum_k log(m/(x_k + c))], m = nce_k/n, c = m + 1e-7, for the student against the teacher bank "
     "plus the teacher against the student bank; afterwards each positive row becomes normalize(momentum row + (1 - "
     "momentum) v). Batches without indices (checks, evaluation) use no memory and store nothing: the in-batch softmax "
     "form (1/B) sum_i [-log softmax_j(<v_s,i, v_t,j>/tau)_i - log softmax_j(<v_t,i, v_s,j>/tau)_i]. Gradients (banks held "
     "constant, as the authors detach them): the student features and all four learnables. Cost per batch O(B (nce_k + 1) "
     "feat_dim). Labels are ignored (checked as int64 [B], never read): the host adds the label term.",
     "Tian, Krishnan & Isola, Contrastive Representation Distillation, ICLR 2020", LATHE_KIND_LOSS,
     LATHE_FLAG_DETERMINISTIC,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, crd_params, 5, (lathe_function)crd, crd_learnables, 4,
     (lathe_function)crd_init, NULL},
#endif
};

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    return lathe_register_methods(host, registrar, "distill", methods, sizeof methods / sizeof methods[0]);
}

static const lathe_plugin plugin = {
    LATHE_HEAD(lathe_plugin), "distill", "1.2.0",
    "Distillation losses: DKD (response); FitNets hint, channel-wise (feature); attention transfer, attention-map (MiniLM), RKD distance and angle, "
    "similarity-preserving, CRD (relation)",
    plugin_init, NULL,
};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }

