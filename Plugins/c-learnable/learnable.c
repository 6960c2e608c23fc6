/*
 * learnable.c — the `learnable` plugin: quantizers with learned parameters (ABI 1.1).
 *
 * Written in C11 against lathe_plugin.h only. Built by SwiftPM as libLatheLearnable.so; standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o liblearnable.so Plugins/c-learnable/[a-z]*.c Plugins/c-support/{support,context}.c -lm
 * Files: learnable.c (descriptors), layout.c (argument checks, channel layout), lsq.c, lsq_plus.c,
 * pact.c (one method family each), learnable_internal.h (what they share).
 *
 * Methods (each: forward = the 1.0 quantizer function reading call->learnables, an initialiser
 * run once per instance on its first tensor, a backward giving dL/dx and dL/d(each learnable))
 *   learnable/lsq          LSQ, one step per tensor            (Esser et al., ICLR 2020)
 *   learnable/lsq-channel  LSQ, one step per channel along call->axis
 *   learnable/lsq-plus     LSQ+, learned step and offset       (Bhalgat et al., CVPR-W 2020)
 *   learnable/pact         PACT, learned clip alpha            (Choi et al., 2018)
 * A learnable's shape rule is part of the method's declaration, so per-tensor and per-channel
 * LSQ are two methods rather than one with a per_channel switch.
 *
 * Conventions: float32 CPU compact tensors; rounding half to even; the learned step (or clip) is
 * used as max(value, 1e-8) so a learning-rate accident cannot divide by zero (its gradient still
 * passes); deterministic and thread-safe (nothing global is written; the host owns the
 * learnables). The backward is the papers' straight-through estimator, not the derivative of the
 * forward (which is 0 almost everywhere), and LSQ's step gradient carries the gradient scale g.
 */
#include "learnable_internal.h"

#include <stdio.h>

#define FLAGS (LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC)

static const char *const SIGN_CHOICES[] = {"auto", "signed", "unsigned"};

#define BITS_PARAM \
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b of the integer grid", 4.0, BITS_MIN, BITS_MAX, NULL, 0}
#define SIGN_PARAM                                                                                                    \
    {LATHE_HEAD(lathe_param), "sign", LATHE_PARAM_ENUM,                                                               \
     "integer range: signed [-2^(b-1), 2^(b-1) - 1] (weights), unsigned [0, 2^b - 1] (activations after a ReLU), "    \
     "auto = unsigned when the call's role is activation, signed otherwise",                                          \
     0.0, 0.0, 0.0, SIGN_CHOICES, 3}

static const lathe_param lsq_params[] = {BITS_PARAM, SIGN_PARAM};
static const lathe_param lsq_plus_params[] = {BITS_PARAM};
static const lathe_param pact_params[] = {
    BITS_PARAM,
    {LATHE_HEAD(lathe_param), "sign", LATHE_PARAM_ENUM,
     "clip range: unsigned clip(x, 0, alpha) (activations, the paper's), signed clip(x, -alpha, alpha) (weights), "
     "auto = unsigned when the call's role is activation, signed otherwise",
     0.0, 0.0, 0.0, SIGN_CHOICES, 3},
    {LATHE_HEAD(lathe_param), "init_ratio", LATHE_PARAM_F32,
     "initial clip alpha as a fraction of the first tensor's max (signed: max |x|)", 1.0, 0.01, 1.0, NULL, 0},
};

static const lathe_learnable step_scalar[] = {
    {LATHE_HEAD(lathe_learnable), "step", LATHE_SHAPE_SCALAR, NULL, "the quantization step s"},
};
static const lathe_learnable step_channel[] = {
    {LATHE_HEAD(lathe_learnable), "step", LATHE_SHAPE_PER_CHANNEL, NULL, "the quantization step s_c of each channel"},
};
static const lathe_learnable step_offset[] = {
    {LATHE_HEAD(lathe_learnable), "step", LATHE_SHAPE_SCALAR, NULL, "the quantization step s"},
    {LATHE_HEAD(lathe_learnable), "offset", LATHE_SHAPE_SCALAR, NULL, "the offset beta of the grid"},
};
static const lathe_learnable clip_alpha[] = {
    {LATHE_HEAD(lathe_learnable), "alpha", LATHE_SHAPE_SCALAR, NULL, "the clip value alpha"},
};

#define LSQ_DOC                                                                                                         \
    "x_q = round(clip(x / s, -Qn, Qp)) * s, round half to even. Signed b bits: Qn = 2^(b-1), Qp = 2^(b-1) - 1 "         \
    "(reported symmetric, qmin -Qn); unsigned: Qn = 0, Qp = 2^b - 1 (reported affine, zero point 0). Init (first "     \
    "tensor): s = 2 mean|x| / sqrt(Qp) (1 if that is 0). Backward: dx = dy where -Qn < x/s < Qp, else 0 (STE); "       \
    "ds = g * sum dy * (round(x/s) - x/s inside, -Qn where x/s <= -Qn, Qp where x/s >= Qp), with the gradient scale "  \
    "g = 1/sqrt(N Qp), N = the elements sharing the step (for activations: per sample, the paper's features of the " \
    "layer). A step at or below 1e-8 is used as 1e-8."

static const lathe_method methods[] = {
    {LATHE_HEAD(lathe_method), "lsq", "Learned step size quantization (per tensor)", LSQ_DOC " One step for the tensor.",
     "Esser et al., Learned Step Size Quantization, ICLR 2020", LATHE_KIND_QUANTIZER, FLAGS, LATHE_GRANULARITY_NONE,
     LATHE_LOSS_NONE, lsq_params, 2, (lathe_function)lsq_forward, step_scalar, 1, (lathe_function)lsq_init,
     (lathe_function)lsq_backward},
    {LATHE_HEAD(lathe_method), "lsq-channel", "Learned step size quantization (per channel)",
     LSQ_DOC " One step per index of the call's axis (0 for weights: output channels); per tensor when the axis is -1; "
             "ds_c sums over its channel, N = the channel's elements.",
     "Esser et al., Learned Step Size Quantization, ICLR 2020", LATHE_KIND_QUANTIZER, FLAGS, LATHE_GRANULARITY_NONE,
     LATHE_LOSS_NONE, lsq_params, 2, (lathe_function)lsq_channel_forward, step_channel, 1,
     (lathe_function)lsq_channel_init, (lathe_function)lsq_channel_backward},
    {LATHE_HEAD(lathe_method), "lsq-plus", "LSQ+ (learned step and offset)",
     "x_q = round(clip((x - beta) / s, 0, Qp)) * s + beta, Qp = 2^b - 1, for activations that can be negative (e.g. "
     "Swish). Init (min/max, the paper's first option): s = (max - min) / Qp (1 if 0), beta = min. Backward: u = (x - "
     "beta)/s; dx = dy where 0 < u < Qp, else 0; ds = g * sum dy * (round(u) - u inside, 0 where u <= 0, Qp where u >= "
     "Qp); dbeta = g * sum dy where u <= 0 or u >= Qp; g = 1/sqrt(N Qp) as in LSQ, applied to both. Reported affine "
     "with zero point clamp(round(-beta/s), 0, Qp): exact when beta is a multiple of s, otherwise the remainder is a "
     "constant shift deployment folds into the next layer's bias.",
     "Bhalgat et al., LSQ+: Improving low-bit quantization through learnable offsets and better initialization, "
     "CVPR Workshops 2020",
     LATHE_KIND_QUANTIZER, FLAGS, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, lsq_plus_params, 1,
     (lathe_function)lsq_plus_forward, step_offset, 2, (lathe_function)lsq_plus_init, (lathe_function)lsq_plus_backward},
    {LATHE_HEAD(lathe_method), "pact", "PACT (learned clip)",
     "Unsigned (activations, the paper's): y = clip(x, 0, alpha), x_q = round(y / d) * d with d = alpha / (2^b - 1) "
     "(reported affine, zero point 0). Signed (weights): y = clip(x, -alpha, alpha), d = alpha / (2^(b-1) - 1) "
     "(reported symmetric, restricted range). Backward (straight-through): dx = dy where 0 <= x < alpha (signed: |x| < "
     "alpha), else 0; dalpha = sum of dy where x >= alpha (signed: minus the sum where x <= -alpha). Init: alpha = "
     "init_ratio * the first tensor's max (signed: max |x|), not the paper's fixed 10, so that alpha gets a gradient "
     "from the start. The paper's L2 penalty on alpha is the recipe's learnable weight decay. An alpha at or below 1e-8 "
     "is used as 1e-8.",
     "Choi et al., PACT: Parameterized Clipping Activation for Quantized Neural Networks, arXiv:1805.06085, 2018",
     LATHE_KIND_QUANTIZER, FLAGS, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, pact_params, 3, (lathe_function)pact_forward,
     clip_alpha, 1, (lathe_function)pact_init, (lathe_function)pact_backward},
};

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    return lathe_register_methods(host, registrar, "learnable", methods, sizeof methods / sizeof methods[0]);
}

static const lathe_plugin plugin = {
    LATHE_HEAD(lathe_plugin), "learnable", "1.0.0",
    "Quantizers with learned parameters: LSQ (per tensor and per channel), LSQ+, PACT", plugin_init, NULL,
};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
