/* learnable_internal.h — what the learnable plugin's files share (private): the sign choice,
 * the tensor layout around the call's channel axis, and the method functions. See learnable.c. */
#ifndef LEARNABLE_INTERNAL_H
#define LEARNABLE_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Bit widths the methods accept. */
enum { BITS_MIN = 2, BITS_MAX = 8 };

/** The `sign` hyperparameter: which integer range. AUTO is unsigned for activations
 *  (call->role == LATHE_ROLE_ACTIVATION: inputs after a ReLU) and signed for everything else. */
enum { SIGN_AUTO = 0, SIGN_SIGNED = 1, SIGN_UNSIGNED = 2, SIGN_COUNT = 3 };

/** Smallest step (LSQ, LSQ+) or clip (PACT) used: a learned value at or below it (a learning
 *  rate too high can push it there) is replaced by it in the forward and backward, and its
 *  gradient passes unchanged, so the optimizer can move it back. */
#define STEP_MIN 1e-8f

/** 1.5 * 2^23: adding and subtracting it rounds |t| <= 2^22 to an integer, ties to even (the
 *  default rounding mode), like nearbyintf but vectorizable. */
#define ROUND_MAGIC 12582912.0f

static inline float round_even(float t) { return (t + ROUND_MAGIC) - ROUND_MAGIC; }

/** A call's tensors viewed around the channel axis: element (o, c, i) is at
 *  (o * channels + c) * inner + i. Per tensor, channels is 1. */
typedef struct layout {
    const float *x;        /**< input */
    float *y;              /**< output (forward) or grad_input (backward) */
    const float *dy;       /**< grad_output (backward); NULL in the forward */
    size_t count;
    size_t outer, channels, inner;
    int32_t axis;          /**< the reported axis: -1 per tensor */
    size_t batch;          /**< shape[0] (1 for a 0-d tensor) */
} layout;

/** Checks input, output (and grad_output when non-NULL: the input's shape) and resolves the
 *  layout. `per_channel`: channels along call->axis (1 when the call says -1 or is 1.0-sized). */
LATHE_SUPPORT_HIDDEN int32_t prepare_layout(lathe_call *call, const DLTensor *input, DLTensor *output,
                                            const DLTensor *grad_output, bool per_channel, layout *out);

/** Whether the integer range is unsigned for `sign` and the call's role. */
LATHE_SUPPORT_HIDDEN bool resolve_unsigned(const lathe_call *call, int32_t sign);

/** Checks bits in BITS_MIN..BITS_MAX and sign in 0..SIGN_COUNT-1. */
LATHE_SUPPORT_HIDDEN int32_t check_bits_sign(lathe_call *call, int32_t bits, int32_t sign);

/** `count` floats of scratch memory, or NULL after reporting LATHE_NO_MEMORY. */
LATHE_SUPPORT_HIDDEN float *scratch_floats(lathe_call *call, size_t count, int32_t *status);

/* lsq.c ------------------------------------------------------------------------------------- */
LATHE_SUPPORT_HIDDEN int32_t lsq_init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign);
LATHE_SUPPORT_HIDDEN int32_t lsq_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t sign);
LATHE_SUPPORT_HIDDEN int32_t lsq_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output,
                                          DLTensor *grad_input, int32_t bits, int32_t sign);
LATHE_SUPPORT_HIDDEN int32_t lsq_channel_init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign);
LATHE_SUPPORT_HIDDEN int32_t lsq_channel_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                                                 int32_t sign);
LATHE_SUPPORT_HIDDEN int32_t lsq_channel_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output,
                                                  DLTensor *grad_input, int32_t bits, int32_t sign);
/* lsq_plus.c -------------------------------------------------------------------------------- */
LATHE_SUPPORT_HIDDEN int32_t lsq_plus_init(lathe_call *call, const DLTensor *input, int32_t bits);
LATHE_SUPPORT_HIDDEN int32_t lsq_plus_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits);
LATHE_SUPPORT_HIDDEN int32_t lsq_plus_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output,
                                               DLTensor *grad_input, int32_t bits);
/* pact.c ------------------------------------------------------------------------------------ */
LATHE_SUPPORT_HIDDEN int32_t pact_init(lathe_call *call, const DLTensor *input, int32_t bits, int32_t sign, float init_ratio);
LATHE_SUPPORT_HIDDEN int32_t pact_forward(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                                          int32_t sign, float init_ratio);
LATHE_SUPPORT_HIDDEN int32_t pact_backward(lathe_call *call, const DLTensor *input, const DLTensor *grad_output,
                                           DLTensor *grad_input, int32_t bits, int32_t sign, float init_ratio);

#endif
