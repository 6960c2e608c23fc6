/*
 * lathe_plugin.h — the Lathe plugin SDK. This header is the whole SDK: a plugin includes it
 * (plus <dlpack/dlpack.h>, Debian's `libdlpack-dev`), exports one symbol, and never links
 * libtorch, Swift or Lathe. Get a copy without the source tree with `lathe plugins sdk DIR`.
 *
 *   ABI 1.3. SPDX-License-Identifier: MIT
 *   1.1 added (append-only; a 1.0 plugin runs unchanged): the call context (layer, role, axis,
 *   training position, sample indices), learnable tensors with an initialiser and a backward
 *   entry, a persistent per-run state buffer (host->state), group/block granularity and
 *   minifloat element formats in lathe_qparams. Fields added after 1.0 are marked [1.1].
 *   1.2 added (append-only; 1.0 and 1.1 plugins run unchanged): calibration statistics of a
 *   layer's input (per-column abs-max, mean square and the Gram matrix XᵀX/n), which a method
 *   asks for with the LATHE_FLAG_NEEDS_INPUT_* flags and reads from the call; a fourth kind of
 *   method, the layer solver (W and statistics -> W' with quantization parameters or a mask:
 *   GPTQ, SparseGPT); host->report_metric for named numbers about a call. Marked [1.2].
 *   1.3 added (append-only; 1.0 to 1.2 plugins run unchanged): two kinds of method, the
 *   channel scaler (W and input statistics -> one positive scale per input channel, which the
 *   host multiplies into W's columns and divides out of the op before: SmoothQuant, AWQ) and
 *   the factorizer (W -> A·B of a chosen rank, which replaces the layer by two: SVD, ASVD), and
 *   the per-column mean absolute value among the calibration statistics. Marked [1.3].
 *
 * ---------------------------------------------------------------------------------------------
 * How a plugin is loaded
 *   1. The host verifies the library's sha256 against its registry manifest, then dlopen()s it
 *      with RTLD_NOW | RTLD_LOCAL. A library is never unloaded while the process runs.
 *   2. The host calls the one exported function `lathe_plugin_entry()` (LATHE_ENTRY_SYMBOL),
 *      which returns a pointer to a static `lathe_plugin` descriptor.
 *   3. If `plugin->head.abi_major != LATHE_ABI_MAJOR` the host refuses the library, naming both
 *      versions. Otherwise it calls `plugin->init(host, registrar)` once; init registers the
 *      plugin's methods with `registrar->register_method` and returns LATHE_OK.
 *   4. Methods are called through libffi with their kind's fixed leading arguments followed by
 *      their hyperparameters, in declaration order, as plain C values (see "Calling
 *      conventions"). The host checks every value against the declaration before the call.
 *   5. At process exit the host may call `plugin->deinit()` (optional, may be NULL).
 *
 * Versioning
 *   Every struct starts with a `lathe_head`: ABI major, ABI minor, and the struct's size as the
 *   writer compiled it. Structs are append-only within a major version: a host reads fields
 *   beyond the size a plugin declared as absent (zero), and a plugin must not read host fields
 *   beyond `head.size`. A new major version may change anything and is refused by older hosts.
 *
 * Threading
 *   Each function below carries a [thread: ...] tag.
 *   [thread: main]  called on the thread that loaded the plugin, never concurrently with any
 *                   other call into the plugin.
 *   [thread: any]   may be called from any thread. Method functions of methods that declare
 *                   LATHE_FLAG_THREAD_SAFE may be called concurrently with themselves and with
 *                   other methods; others are serialized by the host.
 *
 * Memory and ownership
 *   - Strings and arrays in descriptors are borrowed by the host only for the duration of
 *     register_method (the host copies them), so they may live on the stack; static is usual.
 *   - Input DLTensors are borrowed for the duration of one call: read-only, never retained.
 *     The host passes private copies and fails a call that writes into one: on every call of
 *     `lathe plugins check` and of a 1.0-style call; in QAT and distillation, on the first 8
 *     calls of each method instance and 1 call in 64 after (the others pass inputs in place,
 *     since the copies cost more than a fake quantizer's own work).
 *   - Output DLTensors are allocated by the host with the documented shapes; the plugin writes
 *     every element. The host fills them with a canary (a signalling-NaN bit pattern) before
 *     the call and fails a call that leaves any element, or a loss's `*loss`, unwritten. Never
 *     retain them either. Outputs never alias inputs or each other.
 *   - Arrays of size-prefixed structs (a method's `params`) are strided by the first element's
 *     `head.size`, so a plugin built against a later minor version still reads correctly.
 *   - Scratch memory from `host->scratch` is valid until the call returns; the host frees it.
 *   - The host copies whatever is passed to `report_qparams` and `report_error` before they
 *     return.
 *
 * Tensors (DLPack 0.6 `DLTensor`)
 *   CPU (kDLCPU), float32 unless said otherwise (labels: int64), compact row-major. `strides`
 *   may be NULL (compact); when non-NULL they describe a compact row-major layout too.
 *   `byte_offset` is 0. Tensors documented as present are never NULL.
 *
 * Hyperparameter values
 *   The host checks every value against the declaration before the call: numbers lie within
 *   [min_value, max_value], bools are exactly 0 or 1, enum indices are valid. A plugin may rely
 *   on that and need not re-check.
 *
 * Errors
 *   Method functions return LATHE_OK (0) on success. On failure, return another lathe_status
 *   (LATHE_INVALID_ARGUMENT for values or shapes the method rejects, LATHE_UNSUPPORTED for a
 *   dtype, device or layout it does not implement, LATHE_NO_MEMORY when scratch memory fails)
 *   and, once, call `call->host->report_error(call, message)`. Never let a C++ exception, a
 *   Rust panic, a Swift trap or a longjmp cross this boundary. Outputs of a failed call are
 *   discarded. A call that returns LATHE_OK with a non-finite output is treated as a failure.
 *
 * Conformance
 *   `lathe plugins check LIB` runs each method through conformance checks (every hyperparameter
 *   at its bounds and choices, edge-case inputs, concurrent calls); the SDK's README.md lists
 *   each check, what it calls and what passes.
 * ---------------------------------------------------------------------------------------------
 */
#ifndef LATHE_PLUGIN_H
#define LATHE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LATHE_ABI_MAJOR 1
#define LATHE_ABI_MINOR 3

/** The one symbol a plugin exports: `const lathe_plugin *lathe_plugin_entry(void)`. */
#define LATHE_ENTRY_SYMBOL "lathe_plugin_entry"

#if defined(_WIN32)
#define LATHE_EXPORT __declspec(dllexport)
#else
#define LATHE_EXPORT __attribute__((visibility("default")))
#endif

/** First member of every struct: the ABI version and the struct's size as its writer compiled it. */
typedef struct lathe_head {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t size;
} lathe_head;

/** Initializer for a `lathe_head` of struct type T. */
#define LATHE_HEAD(T) { LATHE_ABI_MAJOR, LATHE_ABI_MINOR, (uint32_t)sizeof(T) }

/** Whether the size-prefixed struct `p` of type T (the host table, a call) holds field `f`: true
 *  when its writer's declared size reaches past the field's end. Structs grow only by appending
 *  fields in minor versions, so every 1.0 field is always there; a plugin built against a later
 *  minor must test each field added after 1.0 with this before reading it, because an older host
 *  hands over a shorter struct. Example: `if (LATHE_HAS_FIELD(call->host, lathe_host, f)) ...`.
 *  [thread: any] */
#define LATHE_HAS_FIELD(p, T, f) \
    ((p) != NULL && (size_t)(p)->head.size >= offsetof(T, f) + sizeof(((const T *)0)->f))

/** Status returned by every plugin function. */
typedef enum lathe_status {
    LATHE_OK = 0,
    LATHE_ERROR = 1,            /**< any failure; details through report_error */
    LATHE_INVALID_ARGUMENT = 2, /**< an input or hyperparameter the method cannot handle */
    LATHE_UNSUPPORTED = 3,      /**< a shape, dtype or layout the method does not support */
    LATHE_NO_MEMORY = 4
} lathe_status;

/** The kinds of method. */
typedef enum lathe_kind {
    LATHE_KIND_QUANTIZER = 1,
    LATHE_KIND_CRITERION = 2,
    LATHE_KIND_LOSS = 3,
    LATHE_KIND_SOLVER = 4, /**< [1.2] a layer solver: W and input statistics -> W' (see below) */
    LATHE_KIND_SCALER = 5, /**< [1.3] a channel scaler: W and input statistics -> per-input-channel
                                scales (see below) */
    LATHE_KIND_FACTORIZER = 6 /**< [1.3] a factorizer: W -> A·B of a rank it chooses (see below) */
} lathe_kind;

/** Hyperparameter types and the C type each is passed as. */
typedef enum lathe_param_type {
    LATHE_PARAM_I32 = 1,  /**< int32_t */
    LATHE_PARAM_I64 = 2,  /**< int64_t */
    LATHE_PARAM_F32 = 3,  /**< float   */
    LATHE_PARAM_F64 = 4,  /**< double  */
    LATHE_PARAM_BOOL = 5, /**< bool (C99 _Bool, one byte) */
    LATHE_PARAM_ENUM = 6  /**< int32_t: the index of the chosen name in `choices` */
} lathe_param_type;

/** Capability flags of a method (bits of `lathe_method.flags`). Unknown bits are refused. */
enum {
    LATHE_FLAG_THREAD_SAFE = 1u << 0,   /**< may be called concurrently from several threads */
    LATHE_FLAG_DETERMINISTIC = 1u << 1, /**< same inputs and hyperparameters -> same bytes out */
    LATHE_FLAG_NEEDS_GRADIENT = 1u << 2,/**< criterion: needs the loss gradient w.r.t. the weight */
    LATHE_FLAG_NEEDS_AUX = 1u << 3,     /**< criterion: needs the auxiliary tensor (e.g. BN scale) */
    /* [1.2] Criteria and solvers: calibration statistics of the layer's input, in call->input_*
     * (see "Calibration statistics"). A plugin declaring ABI 1.0 or 1.1 may not set bits 4-7. */
    LATHE_FLAG_NEEDS_INPUT_ABS_MAX = 1u << 4,     /**< call->input_abs_max */
    LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE = 1u << 5, /**< call->input_mean_square */
    LATHE_FLAG_NEEDS_INPUT_GRAM = 1u << 6,        /**< call->input_gram */
    LATHE_FLAG_SOLVER_PRUNES = 1u << 7,           /**< [1.2] solver: writes a mask (prunes) instead of
                                                       reporting quantization parameters */
    LATHE_FLAG_NEEDS_INPUT_ABS_MEAN = 1u << 8     /**< [1.3] call->input_abs_mean (not before 1.3) */
};
/** Every flag bit of this header (ABI 1.0 and 1.1 know 0xF, 1.2 knows 0xFF). */
#define LATHE_FLAGS_KNOWN 0x1FFu

/** Granularity of a pruning criterion's scores. */
typedef enum lathe_granularity {
    LATHE_GRANULARITY_NONE = 0,           /**< quantizers and losses */
    LATHE_GRANULARITY_ELEMENT = 1,        /**< one score per weight element */
    LATHE_GRANULARITY_OUTPUT_CHANNEL = 2  /**< one score per output channel (dimension 0) */
} lathe_granularity;

/** Category of a distillation loss. */
typedef enum lathe_loss_category {
    LATHE_LOSS_NONE = 0,     /**< quantizers and criteria */
    LATHE_LOSS_RESPONSE = 1, /**< logits: student [B, K], teacher [B, K] */
    LATHE_LOSS_FEATURE = 2,  /**< feature maps of equal shape [B, ...] (the host adapts the student) */
    LATHE_LOSS_RELATION = 3  /**< per-sample representations [B, ...]; trailing shapes may differ */
} lathe_loss_category;

/** One hyperparameter of a method. */
typedef struct lathe_param {
    lathe_head head;
    const char *name;          /**< [a-z][a-z0-9_]*, unique within the method */
    int32_t type;              /**< lathe_param_type */
    const char *doc;           /**< one line; may be NULL */
    double default_value;      /**< numbers: the value; bool: 0 or 1; enum: the index */
    double min_value;          /**< inclusive; numbers only (ignored for bool and enum) */
    double max_value;          /**< inclusive; numbers only */
    const char *const *choices;/**< enum only: the names, [a-z0-9_-]+ */
    uint32_t choice_count;     /**< enum only: at least 1 */
} lathe_param;

/** Quantization parameters a quantizer reports for the tensor it just quantized. */
typedef enum lathe_qscheme {
    LATHE_QSCHEME_AFFINE = 1,       /**< q = clamp(round(x/scale) + zero_point, qmin, qmax) */
    LATHE_QSCHEME_SYMMETRIC = 2,    /**< affine with zero_point 0; qmin is -qmax (restricted) or -qmax-1 */
    LATHE_QSCHEME_BINARY = 3,       /**< x -> scale * sign(x), sign(0) = +1; bits = 1 */
    LATHE_QSCHEME_TERNARY = 4,      /**< x -> scale * {-1, 0, 1}; bits = 2 */
    LATHE_QSCHEME_POWER_OF_TWO = 5, /**< x -> 0 or sign(x) * 2^k for 2^(bits-1) - 1 exponents
                                         k <= k_max; report count 1, scale 2^k_max */
    LATHE_QSCHEME_CODEBOOK = 6,     /**< x -> codebook[index]; bits = index width, so the
                                         codebook has at most 2^bits entries */
    LATHE_QSCHEME_MINIFLOAT = 7     /**< [1.1] x -> scale * e(x / scale), e() rounding to the
                                         `element_format` (nearest, ties to even, saturating
                                         to its largest finite value); bits = the format's width */
} lathe_qscheme;

/** [1.1] Element format of a MINIFLOAT scheme (OCP 8-bit FP and Microscaling formats). */
typedef enum lathe_element_format {
    LATHE_ELEMENT_INT = 0,          /**< integers (every scheme but MINIFLOAT) */
    LATHE_ELEMENT_FP8_E4M3 = 1,     /**< 8 bits: bias 7, max 448, no infinities, S.1111.111 NaN */
    LATHE_ELEMENT_FP8_E5M2 = 2,     /**< 8 bits: bias 15, max 57344, IEEE-like inf/NaN */
    LATHE_ELEMENT_FP6_E2M3 = 3,     /**< 6 bits: max 7.5, no inf/NaN */
    LATHE_ELEMENT_FP6_E3M2 = 4,     /**< 6 bits: max 28, no inf/NaN */
    LATHE_ELEMENT_FP4_E2M1 = 5      /**< 4 bits: values 0, 0.5, 1, 1.5, 2, 3, 4, 6, no inf/NaN */
} lathe_element_format;

/** [1.1] How the scales are stored in the deployed format (the size ledger counts them so). */
typedef enum lathe_scale_format {
    LATHE_SCALE_FP32 = 0,  /**< 4 bytes each (the 1.0 assumption) */
    LATHE_SCALE_FP16 = 1,  /**< 2 bytes; the reported scales must be exactly representable */
    LATHE_SCALE_BF16 = 2,  /**< 2 bytes; likewise */
    LATHE_SCALE_E8M0 = 3   /**< 1 byte, a power of two 2^-127..2^127 (OCP MX shared scale) */
} lathe_scale_format;

/* Scales are positive: a channel that quantizes to all zeros (binary or ternary of an all-zero
 * channel) outputs zeros and reports scale 1. */
typedef struct lathe_qparams {
    lathe_head head;
    int32_t scheme;            /**< lathe_qscheme */
    int32_t bits;              /**< bits per element, 1..16 */
    int32_t axis;              /**< channel axis of per-channel parameters, or -1 for per-tensor */
    int32_t qmin, qmax;        /**< integer range (affine/symmetric); 0 otherwise */
    uint32_t count;            /**< number of scales (and zero points): 1, or the axis' size */
    const float *scales;       /**< `count` scales; may be NULL for codebook and power-of-two */
    const int32_t *zero_points;/**< `count` zero points; NULL means all 0 */
    const float *codebook;     /**< codebook scheme: the centroids; NULL otherwise */
    uint32_t codebook_size;
    /* [1.1] */
    int32_t group_size;        /**< 0: per tensor / per channel as `axis` says. > 0: one scale per
                                    group of `group_size` consecutive elements of a row, a row
                                    being everything after dimension 0 flattened (the input
                                    dimension of a weight); `axis` is 0 and `count` is
                                    shape[0] * ceil(row / group_size), row-major (a row's groups
                                    are consecutive); the last group of a row may be shorter */
    int32_t element_format;    /**< lathe_element_format; INT for every scheme but MINIFLOAT */
    int32_t scale_format;      /**< lathe_scale_format */
} lathe_qparams;

struct lathe_host;

/** [1.1] What the tensor a call is about is. */
typedef enum lathe_role {
    LATHE_ROLE_NONE = 0,       /**< not said (conformance checks, 1.0-style calls) */
    LATHE_ROLE_WEIGHT = 1,     /**< a layer's weight */
    LATHE_ROLE_ACTIVATION = 2, /**< a layer's input activation */
    LATHE_ROLE_FEATURE = 3,    /**< an intermediate feature (feature and relation losses) */
    LATHE_ROLE_LOGITS = 4      /**< the network's output (response losses) */
} lathe_role;

/** The context of one method call, passed as the first argument. Host-owned; valid for the call.
 *  Fields marked [1.1] or [1.2] exist only when LATHE_HAS_FIELD(call, lathe_call, field) says so;
 *  a host of that version or later always sets all of them. */
typedef struct lathe_call {
    lathe_head head;
    const struct lathe_host *host; /**< the host table */
    void *host_private;            /**< the host's; do not touch */
    /* [1.1] Where the call comes from. */
    const char *layer;             /**< the layer's name (e.g. "conv2"), or "" when the call is
                                        not about one layer (a response loss, a check) */
    int32_t role;                  /**< lathe_role of the (first) input */
    int32_t axis;                  /**< the channel axis the host wants per-channel parameters
                                        on: 0 for weights, 1 for NC.. activations; -1 per tensor */
    /* [1.1] Training position, for schedules (warm-up, annealing). Outside training (PTQ,
     *  scoring after training, checks) step and epoch are -1 and the totals 0. */
    int64_t step;                  /**< optimizer step of this call, 0-based, within this run */
    int64_t total_steps;           /**< optimizer steps the run will take */
    int32_t epoch;                 /**< 0-based */
    int32_t total_epochs;
    /* [1.1] Learnable tensors (declared in lathe_method.learnables, owned by the host). */
    uint32_t learnable_count;      /**< the method's declared count; 0 when it declares none */
    const DLTensor *const *learnables; /**< forward, backward, loss: their current values, in
                                        declaration order, read-only; NULL in init_learnables */
    DLTensor *const *learnable_outputs; /**< init_learnables: the initial values to write;
                                        backward and loss: the gradient of the loss w.r.t. each
                                        learnable, to write (same shapes); NULL otherwise. Every
                                        element must be written (canary rule) and finite */
    /* [1.1] Losses: which samples the batch holds (e.g. for a memory bank). */
    const int64_t *sample_indices; /**< batch-size indices into the training set, or NULL when
                                        the batch is not from it (checks, evaluation) */
    int64_t dataset_size;          /**< samples in the training set; 0 when sample_indices is NULL */
    /* [1.2] Calibration statistics of the layer's input (see "Calibration statistics"). Each is
     *  non-NULL exactly when the method declares its LATHE_FLAG_NEEDS_INPUT_* flag and the call
     *  is about one layer's weight; read-only, valid for the call. */
    const DLTensor *input_abs_max;     /**< [G, D]: max |x_j| over the calibration rows */
    const DLTensor *input_mean_square; /**< [G, D]: Σ x_j² / n */
    const DLTensor *input_gram;        /**< [G, D, D]: XᵀX / n (symmetric) */
    int64_t calibration_rows;          /**< n, the rows the statistics are taken over; 0 without any */
    const DLTensor *input_abs_mean;    /**< [1.3] [G, D]: Σ |x_j| / n */
} lathe_call;

/** Services the host offers. Valid from init until the process exits. */
typedef struct lathe_host {
    lathe_head head;
    void *host_private;  /**< the host's; do not touch */

    /** Log a line (level: 0 debug, 1 info, 2 warning, 3 error). [thread: any] */
    void (*log)(const struct lathe_host *host, int32_t level, const char *message);

    /** Report why the current call fails (UTF-8, copied). Call at most once per call. [thread: any] */
    void (*report_error)(lathe_call *call, const char *message);

    /** Quantizers: report the parameters of the tensor just quantized (copied). Call once per
     *  call, before returning LATHE_OK. Returns LATHE_OK, or LATHE_INVALID_ARGUMENT if the
     *  parameters are inconsistent (the call then fails): bits outside 1..16; axis not -1 or a
     *  dimension of the input; count not 1 (axis -1) or the axis' size; scales missing (affine,
     *  symmetric), non-finite or not positive; qmin >= qmax or a range wider than 2^bits; zero
     *  points outside [qmin, qmax]; a codebook missing or larger than 2^bits. [thread: any] */
    int32_t (*report_qparams)(lathe_call *call, const lathe_qparams *qparams);

    /** Scratch memory for this call: 64-byte aligned, uninitialised, freed by the host when the
     *  call returns. NULL if it cannot be had. [thread: any] */
    void *(*scratch)(lathe_call *call, size_t bytes);

    /** [1.1] The persistent state buffer of this method instance for this run (e.g. a memory
     *  bank): 64-byte aligned, zero-filled when first handed out, then the same bytes on every
     *  later call of the instance until the run ends; the host saves it with checkpoints and
     *  restores it on resume. The first request fixes the size: a later request of another
     *  size, or one over LATHE_STATE_MAX_BYTES, returns NULL (then fail the call with
     *  LATHE_NO_MEMORY). Calls of an instance that has state are serialized by the host, so the
     *  plugin needs no lock for it. Test with LATHE_HAS_FIELD(call->host, lathe_host, state).
     *  [thread: any] */
    void *(*state)(lathe_call *call, size_t bytes);

    /** [1.2] Record a named number about the current call (e.g. the damping a solver had to
     *  use, its reconstruction error) in the run's ledger, beside the layer the call is about.
     *  `name` is [a-z][a-z0-9_]*, at most 32 bytes; the value is finite; at most 16 per call;
     *  a later value of the same name replaces the earlier one. Returns LATHE_OK, or
     *  LATHE_INVALID_ARGUMENT (nothing recorded; the call may go on). Test with
     *  LATHE_HAS_FIELD(call->host, lathe_host, report_metric). [thread: any] */
    int32_t (*report_metric)(lathe_call *call, const char *name, double value);
} lathe_host;

/** [1.1] The largest state buffer a method instance may hold: 1 GiB. */
#define LATHE_STATE_MAX_BYTES ((size_t)1 << 30)

/*
 * Calling conventions. Each method's `function` has its kind's fixed leading arguments, then
 * one argument per declared hyperparameter, in declaration order, with the C type of its
 * lathe_param_type. It returns a lathe_status. [thread: any]
 *
 * Quantizer — fake-quantize `input` into `output` (same shape), and report the parameters:
 *   int32_t f(lathe_call *call, const DLTensor *input, DLTensor *output, ...hyperparameters);
 *   The channel axis of per-channel quantization is dimension 0 (output channels of a weight).
 *   [1.3] A quantizer may declare LATHE_FLAG_NEEDS_INPUT_* flags: it then quantizes weights
 *   post-training only (never activations, never in QAT, no learnables), and each call carries
 *   the statistics of the weight's layer input, taken from the model before quantization.
 *
 * Pruning criterion — importance scores (higher = keep):
 *   int32_t f(lathe_call *call, const DLTensor *weight, const DLTensor *gradient,
 *             const DLTensor *aux, DLTensor *scores, ...hyperparameters);
 *   `gradient` (same shape as weight, summed over calibration batches) is non-NULL iff the
 *   method declares LATHE_FLAG_NEEDS_GRADIENT; `aux` (one value per output channel, e.g. the
 *   following batch norm's scale, shape [weight.shape[0]]) is non-NULL iff it declares
 *   LATHE_FLAG_NEEDS_AUX.
 *   `scores` has the weight's shape (ELEMENT granularity) or [weight.shape[0]] (OUTPUT_CHANNEL).
 *
 * Distillation loss — a scalar loss (mean over the batch) and its gradient w.r.t. the student:
 *   int32_t f(lathe_call *call, const DLTensor *student, const DLTensor *teacher,
 *             const DLTensor *labels, double *loss, DLTensor *student_grad, ...hyperparameters);
 *   `labels` is int64 [B]; `student_grad` has the student's shape. Shapes follow the category.
 *   [1.1] A loss with learnables reads them from call->learnables and writes the gradient of
 *   `*loss` w.r.t. each into call->learnable_outputs in the same call.
 *
 * [1.2] Layer solver — a new weight for one layer, solved from the weight and the layer's input
 *   statistics (GPTQ, SparseGPT):
 *   int32_t f(lathe_call *call, const DLTensor *weight, DLTensor *new_weight, DLTensor *mask,
 *             ...hyperparameters);
 *   `weight` is the layer's weight in its own shape (view it as [out, D]); `new_weight` (W',
 *   the same shape) must be written completely. A solver that declares LATHE_FLAG_SOLVER_PRUNES
 *   also writes `mask` (the weight's shape): 1 where the weight is kept, 0 where it is pruned,
 *   and W' is 0 wherever the mask is; otherwise `mask` is NULL and the solver quantizes: it
 *   reports W''s grid once through report_qparams (scheme AFFINE or SYMMETRIC, axis 0, per row
 *   or with group_size), and every element of W' must lie on that grid: W' = (q - z)·s with q an
 *   integer in [qmin, qmax] (the host checks to within 1e-5·s plus four float32 ulps of the element,
 *   and refuses the call otherwise).
 *   The host calls a solver once per layer in network order, each time with the statistics of
 *   the layer's input taken through the layers already solved (as GPTQ and SparseGPT do), and
 *   replaces the layer's weight with W' (and applies the mask) before it moves to the next
 *   layer. call->layer names the layer; call->role is LATHE_ROLE_WEIGHT, call->axis 0.
 *
 * [1.3] Channel scaler — one positive scale per input channel of a layer (SmoothQuant, AWQ):
 *   int32_t f(lathe_call *call, const DLTensor *weight, DLTensor *scales, ...hyperparameters);
 *   `scales` is [G, C]: G as in the statistics, C the input channels per group (a linear
 *   layer's `in`, a conv's `in/G`), so input channel g·C + c gets scales[g, c]. Statistic
 *   feature j of group g belongs to channel j / K of that group, K = D / C (K = k·k for a conv,
 *   1 for a linear layer). Every scale must be finite and > 0. The host then computes the same
 *   function with W' = W·diag(s) (column j of the [out, D] view times its channel's scale) and
 *   the layer's input divided by s: it folds 1/s into the op that produces the input where
 *   the graph allows (a LayerNorm's or batch norm's affine parameters, a linear or conv
 *   layer's output rows, through ReLU and pooling), and otherwise keeps an explicit
 *   per-channel multiplication before the layer. Quantization applied afterwards sees W' and
 *   the divided input. The host may call a scaler several times for one layer with different
 *   hyperparameters (a grid search that keeps the value whose quantized layer output is
 *   closest to the original's); each call must depend only on its arguments.
 *
 * [1.3] Factorizer — a low-rank factorization of a layer's weight (SVD, ASVD):
 *   int32_t f(lathe_call *call, const DLTensor *weight, DLTensor *a, DLTensor *b, ...hyperparameters);
 *   With the weight viewed as [out, D] and K = min(out, D): `a` is [out, K] and `b` is [K, D].
 *   The factorizer chooses a rank r in 1..K, reports it once as the metric "rank"
 *   (host->report_metric(call, "rank", r), required), and writes W ≈ a[:, :r]·b[:r, :]; columns
 *   of `a` and rows of `b` from r on must be written too (zeros: the host ignores them). The host
 *   replaces the layer by two: a linear [in -> r] then [r -> out] (the bias on the second), or
 *   for a conv [out, C, k, k] (G = 1) a k×k conv with r outputs (b as [r, C, k, k], the conv's
 *   stride and padding) then a 1×1 conv (a as [out, r, 1, 1], the bias), so MACs fall when
 *   r·(out + D) < out·D. Input statistics, when declared, are those of the layer's input.
 *
 * [1.2] Calibration statistics. A criterion, solver or [1.3] scaler, factorizer or weight quantizer
 * that declares LATHE_FLAG_NEEDS_INPUT_ABS_MAX, _MEAN_SQUARE, _GRAM or [1.3] _ABS_MEAN gets statistics of the input of the layer whose weight it is given,
 * computed by the host in evaluation mode over calibration batches of training data (their
 * count and seed are in the run's configuration and provenance), through the layers before it
 * as they are at that moment (already pruned or quantized ones included). View the weight as a
 * matrix [out, D] (everything after dimension 0 flattened); then column j of that matrix
 * multiplies input feature j, and the statistics are per such feature, in the same order:
 *   - linear [out, in]: D = in, and a row of X is one input vector (a token sequence [B, T, in]
 *     gives B·T rows);
 *   - conv [out, in/G, k, k]: D = (in/G)·k·k, and X is the unfolded (im2col) input, one row per
 *     output position, feature j = (channel c, kernel row u, kernel column v) as j = (c·k + u)·k + v,
 *     zero padding included as the conv sees it. A grouped conv (G groups; depthwise: G = in)
 *     has one set of statistics per group: output channel o belongs to group o / (out / G).
 *     G = 1 for linear layers and ordinary convs.
 * Shapes: input_abs_max, input_mean_square and input_abs_mean [G, D]; input_gram [G, D, D], float32, computed
 * in float64 and rounded once. n = calibration_rows. The host refuses (before computing
 * anything) a Gram matrix larger than its configured limit, naming the layer.
 *
 * [1.1] Learnables. A method may declare up to LATHE_MAX_LEARNABLES learnable tensors. The host
 * owns them as leaf tensors: it allocates each with the shape its rule gives, calls
 * `init_learnables` once per instance (a layer's weight quantizer, a layer's activation
 * quantizer, a loss term) with the first tensor(s) the instance sees, trains them with the
 * model's optimizer (their own learning rate and weight decay in the recipe), saves them in
 * checkpoints and reports their final values. A method with learnables must set
 * `init_learnables`; a quantizer with learnables must set `backward`.
 *
 *   Quantizer initialiser:  int32_t f(lathe_call *call, const DLTensor *input, ...hyperparameters);
 *   Loss initialiser:       int32_t f(lathe_call *call, const DLTensor *student,
 *                                     const DLTensor *teacher, ...hyperparameters);
 *     writing every call->learnable_outputs[i]. The quantizer forward is the 1.0 function,
 *     reading the learnables from call->learnables.
 *   Quantizer backward:     int32_t f(lathe_call *call, const DLTensor *input,
 *                                     const DLTensor *grad_output, DLTensor *grad_input,
 *                                     ...hyperparameters);
 *     given dL/d(output) (the input's shape), writes dL/d(input) and, for each learnable,
 *     dL/d(learnable) into call->learnable_outputs[i]. A quantizer without learnables may set
 *     `backward` too (the host then uses it instead of the straight-through estimator).
 *   `lathe plugins check` verifies every backward by central finite differences.
 */
typedef void (*lathe_function)(void);

/** [1.1] Most learnables a method may declare. */
#define LATHE_MAX_LEARNABLES 8

/** [1.1] How the host shapes a learnable tensor from the tensors its instance sees. `size_param`
 *  names an I32 or I64 hyperparameter of the method whose value gives a size (G or E below). */
typedef enum lathe_shape_rule {
    LATHE_SHAPE_SCALAR = 1,             /**< [1] */
    LATHE_SHAPE_PER_CHANNEL = 2,        /**< [C]: C = input.shape[call->axis] ([1] if axis is -1) */
    LATHE_SHAPE_PER_GROUP = 3,          /**< [shape[0], ceil(row / G)]: row = elements / shape[0] */
    LATHE_SHAPE_VECTOR = 4,             /**< [E] */
    LATHE_SHAPE_STUDENT_PROJECTION = 5, /**< losses: [E, student elements per sample] */
    LATHE_SHAPE_TEACHER_PROJECTION = 6  /**< losses: [E, teacher elements per sample] */
} lathe_shape_rule;

/** [1.1] One learnable tensor of a method. */
typedef struct lathe_learnable {
    lathe_head head;
    const char *name;        /**< [a-z][a-z0-9_]*, unique within the method */
    int32_t shape_rule;      /**< lathe_shape_rule; quantizers: SCALAR, PER_CHANNEL, PER_GROUP */
    const char *size_param;  /**< PER_GROUP, VECTOR, *_PROJECTION: an I32/I64 hyperparameter; else NULL */
    const char *doc;         /**< one line; may be NULL */
} lathe_learnable;

/** A method's descriptor, passed to register_method. */
typedef struct lathe_method {
    lathe_head head;
    const char *id;            /**< [a-z][a-z0-9_.-]*, unique within the plugin; the host
                                    namespaces it as "plugin/id" */
    const char *title;         /**< human name, e.g. "Uniform affine quantizer" */
    const char *doc;           /**< formula and behaviour; may be NULL */
    const char *reference;     /**< the paper, e.g. "Jacob et al., CVPR 2018"; may be NULL */
    int32_t kind;              /**< lathe_kind */
    uint32_t flags;            /**< LATHE_FLAG_* */
    int32_t granularity;       /**< criteria: ELEMENT or OUTPUT_CHANNEL; others NONE */
    int32_t loss_category;     /**< losses: RESPONSE, FEATURE or RELATION; others NONE */
    const lathe_param *params; /**< `param_count` hyperparameters, in argument order */
    uint32_t param_count;      /**< at most 16 */
    lathe_function function;   /**< the entry function, cast to lathe_function */
    /* [1.1] */
    const struct lathe_learnable *learnables; /**< `learnable_count` declarations, or NULL */
    uint32_t learnable_count;  /**< at most LATHE_MAX_LEARNABLES */
    lathe_function init_learnables; /**< required when learnable_count > 0; NULL otherwise */
    lathe_function backward;   /**< quantizers: required with learnables, optional without */
} lathe_method;

/** Handed to init: registers methods. Valid only during init. */
typedef struct lathe_registrar {
    lathe_head head;
    void *host_private; /**< the host's; do not touch */
    /** Register one method (copied). Returns LATHE_OK, or LATHE_INVALID_ARGUMENT with the reason
     *  logged if the descriptor is malformed or its id taken. [thread: main] */
    int32_t (*register_method)(const struct lathe_registrar *registrar, const lathe_method *method);
} lathe_registrar;

/** The plugin's descriptor, returned by lathe_plugin_entry(). Static; never freed. */
typedef struct lathe_plugin {
    lathe_head head;
    const char *name;        /**< [a-z][a-z0-9_-]*; the namespace of the plugin's methods */
    const char *version;     /**< the plugin's own version, e.g. "1.2.0" */
    const char *description; /**< one line; may be NULL */
    /** Register methods. Return LATHE_OK, or fail (after report through host->log). [thread: main] */
    int32_t (*init)(const lathe_host *host, const lathe_registrar *registrar);
    /** Release global resources; may be NULL. [thread: main] */
    void (*deinit)(void);
} lathe_plugin;

/** The entry point's type. */
typedef const lathe_plugin *(*lathe_entry_function)(void);

#ifdef __cplusplus
}
#endif

#endif /* LATHE_PLUGIN_H */
