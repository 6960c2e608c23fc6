/*
 * calib.c — the `calib` plugin: calibration-aware compression methods, which read statistics of
 * a layer's input that the host computes on calibration batches (ABI 1.2, "Calibration
 * statistics" in lathe_plugin.h).
 *
 * Written in C11 against lathe_plugin.h (ABI 1.3; it also builds against the 1.2 header, without
 * the channel scalers, which need 1.3). Built by SwiftPM as libLatheCalib.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libcalib.so Plugins/c-calib/{calib,wanda,gptq,sparsegpt,scale,clip,linalg}.c Plugins/c-support/{support,context}.c -lm
 * Files: calib.c (descriptors), wanda.c, gptq.c, sparsegpt.c, scale.c, clip.c, linalg.c (Cholesky, triangular inverse),
 * calib_internal.h (shared).
 *
 * Methods
 *   calib/wanda   criterion, element: |W_ij| · ‖X_j‖ (RMS over the calibration rows)
 *                 — Sun, Liu, Bair & Kolter, ICLR 2024
 *   calib/gptq    solver, quantizing: W' by GPTQ's column-by-column rounding with error feedback
 *                 through the inverse input Hessian — Frantar, Ashkboos, Hoefler & Alistarh, ICLR 2023
 *   calib/sparsegpt      solver, pruning: adaptive mask by w²/U_jj² per block with the OBS update
 *                        of the kept weights — Frantar & Alistarh, ICML 2023
 *   calib/obs-magnitude  solver, pruning: the mask by |W| beforehand, the same OBS update (baseline)
 *   calib/smoothquant    scaler: s_j = max|X_j|^α / max|W_j|^(1−α) — Xiao, Lin, Seznec, Wu, Demouth & Han, ICML 2023
 *   calib/awq            scaler: s_j = mean|X_j|^α / √(max·min) — Lin, Tang, Tang, Yang, Chen, Wang, Xiao, Dang,
 *                        Gan & Han, MLSys 2024 (the host searches α with the quantizer in the loop)
 *   calib/awq-clip       quantizer (weights, post-training): affine per row with AWQ's clipping search,
 *                        weighted by the input's mean squares
 */
#include "calib_internal.h"

static const lathe_param wanda_params[] = {
    {LATHE_HEAD(lathe_param), "activation_power", LATHE_PARAM_F32,
     "a in |W_ij| · ‖X_j‖^a: 1 is Wanda; 0 is magnitude pruning (the paper's ablation)", 1, 0, 4, NULL, 0},
};

static const char wanda_doc[] =
    "Wanda (pruning by weights and activations): S_ij = |W_ij| · ‖X_j‖₂^a, where X_j is input "
    "feature j of the layer over every calibration row (a token or a sample for linear layers; an "
    "unfolded input position for convs, so that feature j is what weight column j multiplies). The "
    "host passes the mean square Σx_j²/n; the score uses its square root, the RMS, which is "
    "‖X_j‖₂/√n: the same ranking within a layer and within an output row. The paper compares "
    "weights within each output row (sweep key scope = \"per-output\"); local and global scopes "
    "and N:M patterns take the scores as they are. No weight update. Grouped convs use each "
    "output channel's own group's statistics.";

static const lathe_param gptq_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b of the integer codes", 4, 2, 8, NULL, 0},
    {LATHE_HEAD(lathe_param), "group_size", LATHE_PARAM_I32,
     "0: one grid per output row; g > 0: one per g consecutive weights of a row (the last may be shorter)", 0, 0, 4096, NULL, 0},
    {LATHE_HEAD(lathe_param), "symmetric", LATHE_PARAM_BOOL,
     "false: affine min-max grid with a zero point (2^b codes, as uniform/affine); true: symmetric restricted "
     "±(2^(b-1)-1) (as uniform/symmetric and formats/int_group)", 0, 0, 1, NULL, 0},
    {LATHE_HEAD(lathe_param), "act_order", LATHE_PARAM_BOOL,
     "process columns by descending H_jj (with groups: grids fixed beforehand from the original weights)", 0, 0, 1, NULL, 0},
    {LATHE_HEAD(lathe_param), "damp", LATHE_PARAM_F32, "damping λ = damp · mean(diag H) added to H's diagonal", 0.01, 1e-6, 1, NULL, 0},
    {LATHE_HEAD(lathe_param), "block_size", LATHE_PARAM_I32, "columns per lazy batch update (the result does not depend on it)",
     128, 1, 4096, NULL, 0},
};

static const char gptq_doc[] =
    "GPTQ: with H = XᵀX/n the Gram matrix of the layer's input (unfolded for convs), dead inputs "
    "(H_jj = 0) get weight 0 and H_jj = 1, H += λI with λ = damp·mean(diag H) (raised tenfold, "
    "reported as the metric damping and logged, while H is not positive definite), and U is the "
    "upper Cholesky factor of H⁻¹. Columns are processed in order (or by descending H_jj with "
    "act_order) in blocks of block_size: q_j = round(w_j) on the row's grid, e = (w_j − q_j)/U_jj, "
    "and every later column of the row moves by −e·U_j,k (within the block at once, beyond it in one "
    "lazy update per block). Grids: per row, or per group of group_size weights computed from the "
    "current (already updated) weights when the group's first column is reached; affine min-max "
    "(range widened to hold 0) or symmetric restricted. W' = (q − z)·s exactly on the reported grid. "
    "Grouped convs use each group's own Gram matrix. All arithmetic in double. Metrics: damping, "
    "dead_inputs, loss (Σ e²/2, the paper's objective).";

static const char *const calib_pattern_names[CALIB_PATTERN_COUNT] = {"unstructured", "2-4", "4-8", "1-4", "2-8"};

static const lathe_param sparse_params[] = {
    {LATHE_HEAD(lathe_param), "sparsity", LATHE_PARAM_F32, "fraction of the layer's weights pruned (unstructured)", 0.5, 0, 0.99, NULL, 0},
    {LATHE_HEAD(lathe_param), "pattern", LATHE_PARAM_ENUM,
     "unstructured (sparsity applies), or N-M: N kept of every M consecutive weights of a row (sparsity is 1 - N/M)", 0, 0, 0,
     calib_pattern_names, CALIB_PATTERN_COUNT},
    {LATHE_HEAD(lathe_param), "block_size", LATHE_PARAM_I32,
     "columns per block: the adaptive mask is chosen per block (a multiple of M with N:M)", 128, 1, 4096, NULL, 0},
    {LATHE_HEAD(lathe_param), "damp", LATHE_PARAM_F32, "damping λ = damp · mean(diag H) added to H's diagonal", 0.01, 1e-6, 1, NULL, 0},
};

/* obs-magnitude fixes its mask beforehand: its block size changes nothing, so it has none. */
static const lathe_param obs_params[] = {sparse_params[0], sparse_params[1], sparse_params[3]};

static const char sparsegpt_doc[] =
    "SparseGPT: H, dead inputs, damping and U as in calib/gptq. Columns in blocks of block_size: "
    "unstructured, the block's round(sparsity × rows × width) lowest saliencies w²/U_jj² over every "
    "row of the block (on the weights as the earlier blocks left them) are pruned (adaptive mask "
    "selection); with N:M, at the first column of every group of M the M − N lowest saliencies of "
    "each row's group are pruned. Column by column a pruned weight w_j gives e = w_j/U_jj, w_j = 0, "
    "and every later weight of the row moves by −e·U_j,k (the OBS update; lazily beyond the block). "
    "Kept weights keep their updated values. Metrics: damping, dead_inputs, loss (Σ e²/2).";

static const char obs_magnitude_doc[] =
    "OBS with a magnitude mask: the mask is fixed beforehand from |W| (the layer's lowest fraction "
    "sparsity, or the M − N lowest of every group of M along a row), then the pruned weights' error "
    "is fed into the kept ones exactly as calib/sparsegpt does. The baseline that separates "
    "SparseGPT's mask selection from its weight update.";

#if LATHE_ABI_MINOR >= 3
static const lathe_param smoothquant_params[] = {
    {LATHE_HEAD(lathe_param), "alpha", LATHE_PARAM_F32,
     "migration strength α: 0 leaves activations as they are, 1 moves all of their range into the weights", 0.5, 0, 1, NULL, 0},
};

static const char smoothquant_doc[] =
    "SmoothQuant: per input channel j, s_j = max|X_j|^α / max|W_j|^(1−α), where max|X_j| is the "
    "channel's calibration abs-max (over a conv's kernel window too) and max|W_j| the largest weight "
    "that multiplies it (over every row of its group and its kernel window); both are floored at "
    "1e-5 and s is kept in [1e-5, 1e5]. The host multiplies W's columns by s and divides the "
    "input by s (folded into the op before where it can), which moves activation outliers into "
    "the weights before W8A8 quantization. The paper uses α = 0.5 for most models.";

static const lathe_param awq_params[] = {
    {LATHE_HEAD(lathe_param), "alpha", LATHE_PARAM_F32,
     "exponent α of the activation magnitude; 0 gives s = 1 (plain round-to-nearest); searched by the host over a grid", 0.5, 0, 1,
     NULL, 0},
};

static const char awq_doc[] =
    "AWQ (activation-aware weight quantization): per input channel j, s_j = m_j^α / √(max_k m_k^α · "
    "min_k m_k^α), where m_j = mean|X_j| over the calibration rows (averaged over a conv's kernel "
    "window), floored at 1e-4; s is kept in [1e-5, 1e5]. Scaling up the columns of salient input "
    "channels before quantization protects them. The paper searches α over 0, 0.05, …, 0.95 per "
    "layer group for the smallest output error of the quantized layer: a sweep's scale stage does "
    "that with `search = \"alpha\"` and the quantizer in the loop. AWQ's clipping-range search is "
    "the quantizer calib/awq-clip.";

static const lathe_param awq_clip_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b (2^b affine codes per output row)", 4, 2, 8, NULL, 0},
    {LATHE_HEAD(lathe_param), "grid", LATHE_PARAM_I32, "clipping ratios tried: 1 − max_shrink·i/grid for i = 0..grid", 20, 1, 200,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "max_shrink", LATHE_PARAM_F32, "the smallest ratio tried is 1 − max_shrink", 0.5, 0, 0.95, NULL, 0},
};

static const char awq_clip_doc[] =
    "AWQ's clipping search as a weight quantizer: per output row, the affine min-max grid (2^b "
    "codes, range widened to hold 0, as uniform/affine) of the clipped range [r·min, r·max] for "
    "r = 1, 1 − s/n, …, 1 − s (n = grid, s = max_shrink), keeping the r with the smallest "
    "Σ_j E[x_j²]·(w_j − q(w_j))² — the diagonal part of the layer's output error, from the "
    "calibration mean squares of its input (per unfolded feature for convs; grouped convs use "
    "their group's). Post-training weight quantization only (it needs the statistics); reports "
    "the chosen grid per row. After calib/awq's scaling it completes AWQ.";
#endif

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "wanda", "Wanda: |weight| × input-activation norm", wanda_doc,
         "Sun, Liu, Bair & Kolter, A Simple and Effective Pruning Approach for Large Language Models, "
         "ICLR 2024",
         LATHE_KIND_CRITERION, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE,
         LATHE_GRANULARITY_ELEMENT, LATHE_LOSS_NONE, wanda_params, 1, (lathe_function)calib_wanda,
         NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "gptq", "GPTQ: layer-wise quantization with second-order error feedback", gptq_doc,
         "Frantar, Ashkboos, Hoefler & Alistarh, GPTQ: Accurate Post-Training Quantization for Generative Pre-trained "
         "Transformers, ICLR 2023",
         LATHE_KIND_SOLVER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_GRAM,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, gptq_params, 6, (lathe_function)calib_gptq, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "sparsegpt", "SparseGPT: one-shot pruning with second-order weight reconstruction", sparsegpt_doc,
         "Frantar & Alistarh, SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot, ICML 2023",
         LATHE_KIND_SOLVER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_GRAM | LATHE_FLAG_SOLVER_PRUNES,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, sparse_params, 4, (lathe_function)calib_sparsegpt, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "obs-magnitude", "Magnitude mask with the OBS weight update", obs_magnitude_doc,
         "Hassibi & Stork, Second Order Derivatives for Network Pruning: Optimal Brain Surgeon, NIPS 1992; the row-wise "
         "update of Frantar & Alistarh, ICML 2023",
         LATHE_KIND_SOLVER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_GRAM | LATHE_FLAG_SOLVER_PRUNES,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, obs_params, 3, (lathe_function)calib_obs_magnitude, NULL, 0, NULL, NULL},
#if LATHE_ABI_MINOR >= 3
        {LATHE_HEAD(lathe_method), "smoothquant", "SmoothQuant: migrate activation outliers into the weights", smoothquant_doc,
         "Xiao, Lin, Seznec, Wu, Demouth & Han, SmoothQuant: Accurate and Efficient Post-Training Quantization for Large "
         "Language Models, ICML 2023",
         LATHE_KIND_SCALER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_ABS_MAX,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, smoothquant_params, 1, (lathe_function)calib_smoothquant, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "awq", "AWQ: activation-aware channel scales for weight quantization", awq_doc,
         "Lin, Tang, Tang, Yang, Chen, Wang, Xiao, Dang, Gan & Han, AWQ: Activation-aware Weight Quantization for On-Device "
         "LLM Compression and Acceleration, MLSys 2024",
         LATHE_KIND_SCALER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_ABS_MEAN,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, awq_params, 1, (lathe_function)calib_awq, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "awq-clip", "AWQ clipping search: affine per-row weight quantizer weighted by input energy",
         awq_clip_doc,
         "Lin, Tang, Tang, Yang, Chen, Wang, Xiao, Dang, Gan & Han, AWQ: Activation-aware Weight Quantization for On-Device "
         "LLM Compression and Acceleration, MLSys 2024 (auto_clip)",
         LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE,
         LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, awq_clip_params, 3, (lathe_function)calib_awq_clip, NULL, 0, NULL, NULL},
#endif
    };
    return lathe_register_methods(host, registrar, "calib", methods, sizeof methods / sizeof methods[0]);
}

static const lathe_plugin calib_plugin = {
    LATHE_HEAD(lathe_plugin),
    "calib",
    "1.0.0",
    "Calibration-aware methods that read statistics of each layer's input: Wanda, GPTQ, SparseGPT, OBS-magnitude, SmoothQuant, AWQ",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &calib_plugin; }
