/*
 * lowbit.c — the `lowbit` plugin: binary, ternary, power-of-two and k-means (codebook)
 * weight quantizers.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.0) only. Built by SwiftPM as libLatheLowBit.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o liblowbit.so Plugins/c-lowbit/{lowbit,binary_ternary,pow2,kmeans}.c Plugins/c-support/support.c -lm
 * Files: lowbit.c (descriptors), binary_ternary.c, pow2.c, kmeans.c, lowbit_internal.h (shared).
 *
 * Methods (all: kind quantizer, thread-safe, deterministic; per-channel means dimension 0)
 *   lowbit/binary   BWN / XNOR-Net weights: alpha_c * sign(w)          — Rastegari et al., ECCV 2016
 *   lowbit/ternary  TWN: alpha_c * sign(w) * [|w| > delta_c]           — Li, Zhang & Liu, 2016
 *   lowbit/pow2     sign(w) * 2^k, k in a window below round(log2 max|w|) — Miyashita et al., 2016
 *   lowbit/kmeans   1-D Lloyd k-means weight sharing (2^bits centroids)  — Han, Mao & Dally, ICLR 2016
 *
 * Idempotence. Every method is exactly idempotent, q(q(x)) == q(x) bit for bit (for channels of
 * fewer than 2^29 elements, where the sums below are exact):
 *   - binary: q(x) is +-alpha; the mean of n copies of alpha, summed in double, is alpha exactly.
 *   - ternary: the keep rule n * |w| > t * S (S = the double sum of |w|) is evaluated exactly
 *     (products as double-doubles via fma), and the kept set always satisfies t * k < n (exact in
 *     reals since every kept |w| exceeds t * mean; enforced, see ternary_channel). On q(x),
 *     S = k * alpha exactly, so the rule keeps every +-alpha (n > t * k) and no zero, and the mean
 *     of the kept magnitudes is alpha again.
 *   - pow2: the window's top exponent is the rounded exponent of max|w|, so max|q(x)| is exactly
 *     2^k_max and re-derives the same window; every level maps to itself.
 *   - kmeans: an input with at most 2^bits distinct values is returned unchanged (with those
 *     values as the codebook: the exact k-means optimum, zero distortion); q(x) has at most
 *     2^bits distinct values.
 * No global state is written; all temporaries come from host->scratch (or live on the stack and
 * are bounded by 2^8 centroids).
 */
#include "lowbit_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

static const lathe_param binary_params[] = {
    {LATHE_HEAD(lathe_param), "per_channel", LATHE_PARAM_BOOL,
     "one scale per output channel (dimension 0) instead of one per tensor", 1, 0, 1, NULL, 0},
};

static const lathe_param ternary_params[] = {
    {LATHE_HEAD(lathe_param), "threshold", LATHE_PARAM_F32,
     "t in delta = t * mean|w| (TWN's approximation of the optimal threshold uses 0.7)", 0.7, 0.05, 1.5, NULL, 0},
    {LATHE_HEAD(lathe_param), "per_channel", LATHE_PARAM_BOOL,
     "one (delta, alpha) per output channel (dimension 0) instead of one per tensor", 1, 0, 1, NULL, 0},
};

static const lathe_param pow2_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32,
     "bit width b: 0 and +-2^k for 2^(b-1) - 1 consecutive exponents k (2^b - 1 values)", 4, 2, 8, NULL, 0},
};

static const char *const init_choices[INIT_COUNT] = {"linear", "density"};

static const lathe_param kmeans_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b of the index: 2^b shared values", 4, 1, 8,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "iterations", LATHE_PARAM_I32, "maximum number of Lloyd iterations", 20, 1, 100,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "init", LATHE_PARAM_ENUM,
     "centroid initialization: linear (evenly over [min, max]; best in Deep Compression) or density "
     "(evenly spaced quantiles of the weights)",
     0, 0, 0, init_choices, INIT_COUNT},
};

static const char binary_doc[] =
    "Binary weights (BWN, the weight half of XNOR-Net): alpha_c = mean(|w_c|) over each output "
    "channel c (dimension 0; the whole tensor when per_channel is off), x_q = alpha_c * sign(x) "
    "with sign(0) = +1. alpha is the L2-optimal scale for sign(w). The mean is summed in double "
    "and rounded once to float, which makes the method exactly idempotent. An all-zero channel "
    "gives zeros and reports scale 1. Reports scheme binary, 1 bit, one scale per channel.";

static const char ternary_doc[] =
    "Ternary weights (TWN): per output channel c (or per tensor), delta_c = t * mean(|w_c|) with t "
    "= threshold (0.7 approximates the optimal threshold for Gaussian or uniform weights), "
    "I_c = {i : |w_i| > delta_c}, alpha_c = mean(|w_i|) over I_c, x_q = alpha_c * sign(x) on I_c "
    "and 0 elsewhere. The comparison |w| > delta is evaluated exactly as n * |w| > t * sum|w| "
    "(the sum in double), and the kept count k always satisfies t * k < n, which makes the "
    "method exactly idempotent for any threshold. A channel with nothing above delta (possible "
    "for t >= 1, or all zeros) gives zeros and reports scale 1. Reports scheme ternary, 2 bits, "
    "scales alpha_c.";

static const char pow2_doc[] =
    "Power-of-two (logarithmic) weights, per tensor: k_max = round(log2(max|w|)) (capped at 127), "
    "k_min = k_max - (2^(b-1) - 2); x_q = sign(x) * 2^clamp(round(log2|x|), k_min, k_max), and "
    "x_q = 0 for |x| < 2^(k_min - 1) (half the smallest level). round(log2|x|) rounds at the "
    "geometric midpoint sqrt(2) * 2^k and is computed exactly from the float's bits. Levels: 0 and "
    "+-2^k, 2^b - 1 values. k_max is the rounded exponent of the largest magnitude itself, so the "
    "top level is never clipped and q(q(x)) == q(x). Reports scheme power-of-two, b bits, axis "
    "-1, one scale = 2^k_max (the largest level; 1 for an all-zero tensor).";

static const char kmeans_doc[] =
    "Weight sharing by k-means (Deep Compression), per tensor: K = 2^b centroids initialized "
    "linearly over [min, max] (or at the ((i + 1/2) / K)-quantiles for init=density), then up to "
    "`iterations` Lloyd steps on the 1-D values (sorted once; each assignment gives every value to "
    "its nearest centroid, ties to the lower; each update sets a centroid to the mean of its "
    "values, in double; empty clusters keep their centroid; stops early when the assignment is "
    "stable). x_q = the nearest final centroid. A tensor with at most K distinct values is "
    "returned unchanged with those values as the codebook (the exact k-means optimum), which "
    "makes the method idempotent. Reports scheme codebook, b bits, axis -1, the centroids that "
    "are used (sorted, at most 2^b), no scales.";

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const uint32_t flags = LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC;
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "binary", "Binary weights (BWN / XNOR-Net)", binary_doc,
         "Rastegari, Ordonez, Redmon & Farhadi, XNOR-Net: ImageNet Classification Using Binary "
         "Convolutional Neural Networks, ECCV 2016",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, binary_params, 1,
         (lathe_function)quantize_binary},
        {LATHE_HEAD(lathe_method), "ternary", "Ternary weights (TWN)", ternary_doc,
         "Li, Zhang & Liu, Ternary Weight Networks, arXiv:1605.04711, 2016",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, ternary_params, 2,
         (lathe_function)quantize_ternary},
        {LATHE_HEAD(lathe_method), "pow2", "Power-of-two (logarithmic) quantizer", pow2_doc,
         "Miyashita, Lee & Murmann, Convolutional Neural Networks using Logarithmic Data "
         "Representation, arXiv:1603.01025, 2016; Zhou et al., Incremental Network Quantization: "
         "Towards Lossless CNNs with Low-Precision Weights, ICLR 2017",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, pow2_params, 1,
         (lathe_function)quantize_pow2},
        {LATHE_HEAD(lathe_method), "kmeans", "k-means weight sharing (Deep Compression)", kmeans_doc,
         "Han, Mao & Dally, Deep Compression: Compressing Deep Neural Networks with Pruning, Trained "
         "Quantization and Huffman Coding, ICLR 2016",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, kmeans_params, 3,
         (lathe_function)quantize_kmeans},
    };
    return lathe_register_methods(host, registrar, "lowbit", methods, sizeof methods / sizeof methods[0]);
}

static const lathe_plugin lowbit_plugin = {
    LATHE_HEAD(lathe_plugin),
    "lowbit",
    "1.0.0",
    "Low-bit weight quantizers: binary (BWN), ternary (TWN), power-of-two and k-means codebook",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &lowbit_plugin; }
