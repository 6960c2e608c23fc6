/*
 * ctorch.h - a small C API over libtorch, the engine under Lathe's Swift tensor layer.
 *
 * Conventions
 * - A ct_tensor is an opaque, owned handle to an at::Tensor. Every function that returns a
 *   ct_tensor returns a NEW handle the caller must release with ct_free (NULL on error).
 * - Arguments are borrowed: no function takes ownership of a handle passed in.
 * - No C++ exception crosses this boundary. On failure a function returns NULL (handles) or a
 *   non-zero status (int) and the message is kept in a thread-local slot read by
 *   ct_last_error() until the next failing call on the same thread.
 * - Threading: handles may be used from any thread but not concurrently mutated.
 */
#ifndef CTORCH_H
#define CTORCH_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_tensor_s *ct_tensor;
typedef struct ct_generator_s *ct_generator;

/* Element types; values match c10::ScalarType. */
typedef enum {
    CT_UINT8 = 0, CT_INT8 = 1, CT_INT16 = 2, CT_INT32 = 3, CT_INT64 = 4,
    CT_FLOAT16 = 5, CT_FLOAT32 = 6, CT_FLOAT64 = 7, CT_BOOL = 11,
    CT_QINT8 = 12, CT_QUINT8 = 13, CT_QINT32 = 14
} ct_dtype;

/* ---- errors, engine ---------------------------------------------------------------- */
/** Message of the last failure on this thread (empty when none). Valid until the next call. */
const char *ct_last_error(void);
/** Intra-op threads of libtorch and, when the BLAS is OpenBLAS, of the BLAS too. */
void ct_set_num_threads(int32_t n);
/** OpenBLAS's thread count, or -1 when the BLAS is not OpenBLAS. */
int32_t ct_blas_threads(void);
int32_t ct_get_num_threads(void);
/** Seeds libtorch's global generator. Prefer explicit generators. */
void ct_manual_seed(uint64_t seed);
/** Enables or disables gradient recording on this thread; returns the previous state. */
bool ct_set_grad_enabled(bool enabled);
bool ct_is_grad_enabled(void);
/** Version string of the libtorch the shim was compiled against. */
const char *ct_version(void);

/* ---- generators -------------------------------------------------------------------- */
ct_generator ct_generator_new(uint64_t seed);
void ct_generator_free(ct_generator g);

/* ---- lifetime, metadata ------------------------------------------------------------ */
void ct_free(ct_tensor t);
/** A new handle sharing storage and autograd identity with t. */
ct_tensor ct_shallow_clone(ct_tensor t);
int64_t ct_dim(ct_tensor t);
/** Writes min(dim, cap) sizes; returns dim. */
int64_t ct_sizes(ct_tensor t, int64_t *out, int64_t cap);
int64_t ct_strides(ct_tensor t, int64_t *out, int64_t cap);
int64_t ct_numel(ct_tensor t);
int32_t ct_dtype_of(ct_tensor t);
/** Pointer to the first element (honours storage offset); NULL for undefined tensors. */
void *ct_data_ptr(ct_tensor t);
bool ct_is_contiguous(ct_tensor t);
bool ct_defined(ct_tensor t);
/** Scalar value of a one-element tensor as double. Returns status. */
int32_t ct_item(ct_tensor t, double *out);

/* ---- creation ---------------------------------------------------------------------- */
/** Copies `numel(shape) * element size` bytes from data into a new contiguous CPU tensor. */
ct_tensor ct_from_data(const void *data, const int64_t *shape, int64_t ndim, int32_t dtype);
ct_tensor ct_empty(const int64_t *shape, int64_t ndim, int32_t dtype);
/** True when t is the only holder of its tensor and of its storage (no other handle, view,
 *  autograd record or weak reference), needs no gradient, and is a contiguous `dtype` tensor of
 *  `shape`: a caller holding the only reference to the handle may then overwrite it as a new
 *  output. Never throws; false for an undefined tensor or an unknown dtype. */
bool ct_is_exclusive(ct_tensor t, const int64_t *shape, int64_t ndim, int32_t dtype);
ct_tensor ct_full(const int64_t *shape, int64_t ndim, double value, int32_t dtype);
ct_tensor ct_arange(double start, double end, double step, int32_t dtype);
/** Normal(0,1) / Uniform[low,high) / random permutation, from g (NULL: global generator). */
ct_tensor ct_randn(const int64_t *shape, int64_t ndim, ct_generator g);
ct_tensor ct_rand_uniform(const int64_t *shape, int64_t ndim, double low, double high, ct_generator g);
ct_tensor ct_randperm(int64_t n, ct_generator g);
/** Fills t in place with Uniform[low,high) from g (used by initialisers; no grad recorded). */
int32_t ct_uniform_(ct_tensor t, double low, double high, ct_generator g);
int32_t ct_normal_(ct_tensor t, double mean, double std, ct_generator g);
/** Fills t in place with Normal(mean, std) truncated to [low, high] (torch.nn.init.trunc_normal_). */
int32_t ct_trunc_normal_(ct_tensor t, double mean, double std, double low, double high, ct_generator g);

/* ---- autograd ---------------------------------------------------------------------- */
int32_t ct_set_requires_grad(ct_tensor t, bool requires_grad);
bool ct_requires_grad(ct_tensor t);
/** The accumulated gradient (an undefined tensor handle when none: check ct_defined). */
ct_tensor ct_grad(ct_tensor t);
int32_t ct_zero_grad(ct_tensor t);
/** Backpropagates from t; grad may be NULL for scalar t. */
int32_t ct_backward(ct_tensor t, ct_tensor grad, bool retain_graph);
/** Gradients of the outputs w.r.t. the inputs (torch::autograd::grad); out has n_inputs slots. */
int32_t ct_autograd_grad(const ct_tensor *outputs, int64_t n_outputs, const ct_tensor *inputs,
                         int64_t n_inputs, bool create_graph, ct_tensor *out);
ct_tensor ct_detach(ct_tensor t);
/** Backward of a ct_custom_function node: given the upstream gradient (borrowed), store one NEW
 *  handle (or NULL for no gradient) per input in `grads` and return 0; on failure write a
 *  message (NUL-terminated, at most `capacity` bytes) and return non-zero: the backward pass
 *  then fails with that message. Runs on the thread that called backward. */
typedef int32_t (*ct_backward_fn)(void *context, ct_tensor grad_output, ct_tensor *grads, int64_t n, char *message,
                                  size_t capacity);
/** Releases the context of a ct_custom_function node (called once, when the node dies). */
typedef void (*ct_release_fn)(void *context);
/** `value` (computed outside autograd) attached to the graph as a function of `inputs`, with
 *  gradients from `backward`. The result shares value's storage. When no input requires grad or
 *  grad mode is off, the result has no history. `context` is released exactly once, also on
 *  failure. */
ct_tensor ct_custom_function(ct_tensor value, const ct_tensor *inputs, int64_t n, ct_backward_fn backward, void *context,
                             ct_release_fn release);

/* ---- element-wise ------------------------------------------------------------------ */
typedef enum {
    CT_NEG, CT_ABS, CT_SQRT, CT_EXP, CT_LOG, CT_SIGN, CT_ROUND, CT_FLOOR, CT_CEIL,
    CT_RELU, CT_SIGMOID, CT_TANH, CT_GELU, CT_RECIPROCAL, CT_SQUARE, CT_ISFINITE,
    CT_LOGICAL_NOT, CT_CLONE, CT_CONTIGUOUS, CT_ZEROS_LIKE, CT_ONES_LIKE, CT_ISNAN
} ct_unary_op;
ct_tensor ct_unary(int32_t op, ct_tensor a);

typedef enum {
    CT_ADD, CT_SUB, CT_MUL, CT_DIV, CT_POW, CT_MAXIMUM, CT_MINIMUM, CT_MATMUL,
    CT_EQ, CT_NE, CT_LT, CT_LE, CT_GT, CT_GE, CT_LOGICAL_AND, CT_LOGICAL_OR, CT_ATAN2
} ct_binary_op;
ct_tensor ct_binary(int32_t op, ct_tensor a, ct_tensor b);
/** Binary op with a scalar right-hand side (CT_MATMUL not allowed). */
ct_tensor ct_binary_scalar(int32_t op, ct_tensor a, double b);
/** Scalar left-hand side: s - a, s / a, s ^ a (CT_SUB, CT_DIV, CT_POW). */
ct_tensor ct_scalar_binary(int32_t op, double s, ct_tensor a);
ct_tensor ct_clamp(ct_tensor a, double lo, double hi);
ct_tensor ct_where(ct_tensor cond, ct_tensor a, ct_tensor b);
ct_tensor ct_to_dtype(ct_tensor a, int32_t dtype);
ct_tensor ct_leaky_relu(ct_tensor a, double slope);
ct_tensor ct_hardtanh(ct_tensor a, double lo, double hi);

/* ---- in place (no graph recorded when used under no-grad) ------------------------- */
/** a += alpha * b */
int32_t ct_add_(ct_tensor a, ct_tensor b, double alpha);
int32_t ct_mul_(ct_tensor a, ct_tensor b);
int32_t ct_mul_scalar_(ct_tensor a, double s);
int32_t ct_add_scalar_(ct_tensor a, double s);
/** a += value * b * c */
int32_t ct_addcmul_(ct_tensor a, ct_tensor b, ct_tensor c, double value);
/** a += value * b / c */
int32_t ct_addcdiv_(ct_tensor a, ct_tensor b, ct_tensor c, double value);
int32_t ct_copy_(ct_tensor dst, ct_tensor src);
int32_t ct_fill_(ct_tensor a, double value);
int32_t ct_clamp_(ct_tensor a, double lo, double hi);
/** a = a * beta + b * (1 - beta)  (lerp toward b with weight 1-beta) */
int32_t ct_lerp_(ct_tensor a, ct_tensor b, double weight);

/* ---- shape ------------------------------------------------------------------------- */
ct_tensor ct_reshape(ct_tensor a, const int64_t *shape, int64_t ndim);
ct_tensor ct_permute(ct_tensor a, const int64_t *dims, int64_t ndim);
ct_tensor ct_transpose(ct_tensor a, int64_t d0, int64_t d1);
ct_tensor ct_flatten(ct_tensor a, int64_t start, int64_t end);
ct_tensor ct_unsqueeze(ct_tensor a, int64_t dim);
ct_tensor ct_squeeze(ct_tensor a, int64_t dim);
ct_tensor ct_expand(ct_tensor a, const int64_t *shape, int64_t ndim);
ct_tensor ct_cat(const ct_tensor *ts, int64_t n, int64_t dim);
ct_tensor ct_stack(const ct_tensor *ts, int64_t n, int64_t dim);
ct_tensor ct_narrow(ct_tensor a, int64_t dim, int64_t start, int64_t length);
ct_tensor ct_index_select(ct_tensor a, int64_t dim, ct_tensor index);
ct_tensor ct_gather(ct_tensor a, int64_t dim, ct_tensor index);
ct_tensor ct_masked_fill(ct_tensor a, ct_tensor mask, double value);
ct_tensor ct_masked_select(ct_tensor a, ct_tensor mask);
ct_tensor ct_one_hot(ct_tensor labels, int64_t classes);

/* ---- reductions -------------------------------------------------------------------- */
typedef enum { CT_SUM, CT_MEAN, CT_AMAX, CT_AMIN, CT_PROD, CT_VAR, CT_STD, CT_NORM2, CT_NORM1 } ct_reduce_op;
/** Reduces over dims (all dims when ndims == 0). VAR/STD are unbiased=false (population). */
ct_tensor ct_reduce(int32_t op, ct_tensor a, const int64_t *dims, int64_t ndims, bool keepdim);
ct_tensor ct_argmax(ct_tensor a, int64_t dim, bool keepdim);
/** Writes values and indices handles. */
int32_t ct_topk(ct_tensor a, int64_t k, int64_t dim, bool largest, ct_tensor *values, ct_tensor *indices);
int32_t ct_sort(ct_tensor a, int64_t dim, bool descending, ct_tensor *values, ct_tensor *indices);
int32_t ct_kthvalue(ct_tensor a, int64_t k, int64_t dim, ct_tensor *values, ct_tensor *indices);
ct_tensor ct_cumsum(ct_tensor a, int64_t dim);
ct_tensor ct_softmax(ct_tensor a, int64_t dim);
ct_tensor ct_log_softmax(ct_tensor a, int64_t dim);

/* ---- neural-network ops ------------------------------------------------------------ */
/** bias may be NULL. stride/padding/dilation are (h, w). */
ct_tensor ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor bias, const int64_t *stride,
                    const int64_t *padding, const int64_t *dilation, int64_t groups);
ct_tensor ct_linear(ct_tensor x, ct_tensor w, ct_tensor bias);
/** Unfolds an NCHW input into conv columns [N, C·kh·kw, L] (L output positions), feature
 *  (c, u, v) at c·kh·kw + u·kw + v; kernel/stride/padding are (h, w), dilation 1. */
ct_tensor ct_im2col(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding);
/** running_mean/var may be NULL; they are updated in place when training. */
ct_tensor ct_batch_norm(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean,
                        ct_tensor running_var, bool training, double momentum, double eps);
/** Max pooling. Windows that tile the input (kernel == stride, no padding) on float CPU tensors
 *  take Lathe's own kernel (pool.cpp; bitwise equal to ATen's), everything else ATen's. */
ct_tensor ct_max_pool2d(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding);
/** ATen's max_pool2d unconditionally (the reference the tests compare ct_max_pool2d with). */
ct_tensor ct_max_pool2d_aten(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding);
ct_tensor ct_avg_pool2d(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding);
ct_tensor ct_adaptive_avg_pool2d(ct_tensor x, int64_t out_h, int64_t out_w);
/** Layer normalisation over the last dimension (of size `normalized`); weight/bias [normalized]
 *  may be NULL. */
ct_tensor ct_layer_norm(ct_tensor x, int64_t normalized, ct_tensor weight, ct_tensor bias, double eps);
/** One step of torch.optim.SGD (dampening 0) over n parameters, without recording gradients.
 *  buffers[i] is parameter i's momentum buffer: NULL before its first step, when the shim stores
 *  a new handle there that the caller then owns. Parameters without a gradient are skipped. */
int32_t ct_sgd_step(ct_tensor *params, ct_tensor *buffers, int64_t n, double lr, double momentum,
                    double weight_decay, bool nesterov);
/** Mean cross-entropy of logits [N,C] against int64 labels [N]; label_smoothing in [0,1). */
ct_tensor ct_cross_entropy(ct_tensor logits, ct_tensor labels, double label_smoothing);
ct_tensor ct_mse_loss(ct_tensor a, ct_tensor b);
/** KL(target || input) with input given as log-probabilities, target as probabilities; batchmean. */
ct_tensor ct_kl_div(ct_tensor log_input, ct_tensor target);

/* ---- quantized engines: real int8 execution ----------------------------------------- */
/* Engine codes match at::QEngine. Debian's libtorch has QNNPACK and oneDNN, not FBGEMM. */
typedef enum { CT_QENGINE_NONE = 0, CT_QENGINE_FBGEMM = 1, CT_QENGINE_QNNPACK = 2, CT_QENGINE_ONEDNN = 3 } ct_qengine;
/** Writes up to cap supported engine codes; returns how many there are. */
int32_t ct_supported_qengines(int32_t *out, int32_t cap);
/** Selects the engine for subsequent prepack and quantized ops (process-wide). */
int32_t ct_set_qengine(int32_t engine);
int32_t ct_get_qengine(void);
ct_tensor ct_quantize_per_tensor(ct_tensor x, double scale, int64_t zero_point, int32_t dtype);
/** scales: float64 [C]; zero_points: int64 [C]. */
ct_tensor ct_quantize_per_channel(ct_tensor x, ct_tensor scales, ct_tensor zero_points, int64_t axis, int32_t dtype);
ct_tensor ct_dequantize(ct_tensor q);
/** The integer storage of a quantized tensor (int8 / uint8). */
ct_tensor ct_int_repr(ct_tensor q);
/** Scale and zero point of a per-tensor quantized tensor. */
int32_t ct_q_params(ct_tensor q, double *scale, int64_t *zero_point);

/** Prepacked int8 weights for the current engine (opaque; free with ct_packed_free). */
typedef struct ct_packed_s *ct_packed;
ct_packed ct_qlinear_prepack(ct_tensor weight_q, ct_tensor bias);
ct_packed ct_qconv2d_prepack(ct_tensor weight_q, ct_tensor bias, const int64_t *stride, const int64_t *padding,
                             const int64_t *dilation, int64_t groups);
void ct_packed_free(ct_packed p);
/** quint8 input -> quint8 output with the given output quantization; relu fuses a ReLU. */
ct_tensor ct_qlinear(ct_tensor x_q, ct_packed p, double out_scale, int64_t out_zero_point, bool relu);
ct_tensor ct_qconv2d(ct_tensor x_q, ct_packed p, double out_scale, int64_t out_zero_point, bool relu);

/* ---- CPU capabilities that decide how int8 kernels accumulate ------------------------- */
enum {
    CT_CPU_AVX2 = 1 << 0,
    CT_CPU_AVX512BW = 1 << 1,
    /** AVX512-VNNI: vpdpbusd accumulates u8 x s8 products straight into 32 bits. */
    CT_CPU_AVX512_VNNI = 1 << 2,
    /** AVX-VNNI (VEX-encoded vpdpbusd). */
    CT_CPU_AVX_VNNI = 1 << 3,
};
/** The CT_CPU_* features this CPU and OS provide (0 on other architectures). */
int32_t ct_cpu_features(void);

#ifdef __cplusplus
}
#endif
#endif
