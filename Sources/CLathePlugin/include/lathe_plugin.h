/*
 * lathe_plugin.h — the Lathe plugin SDK. This header is the whole SDK: a plugin includes it
 * (plus <dlpack/dlpack.h>, Debian's `libdlpack-dev`), exports one symbol, and never links
 * libtorch, Swift or Lathe. Get a copy without the source tree with `lathe plugins sdk DIR`.
 *
 *   ABI 1.0. SPDX-License-Identifier: MIT
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
 *     The host passes private copies and fails a call that writes into one.
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
#define LATHE_ABI_MINOR 0

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

/** The three kinds of method. */
typedef enum lathe_kind {
    LATHE_KIND_QUANTIZER = 1,
    LATHE_KIND_CRITERION = 2,
    LATHE_KIND_LOSS = 3
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
    LATHE_FLAG_NEEDS_AUX = 1u << 3      /**< criterion: needs the auxiliary tensor (e.g. BN scale) */
};
#define LATHE_FLAGS_KNOWN 0xFu

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
    LATHE_QSCHEME_CODEBOOK = 6      /**< x -> codebook[index]; bits = index width, so the
                                         codebook has at most 2^bits entries */
} lathe_qscheme;

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
} lathe_qparams;

struct lathe_host;

/** The context of one method call, passed as the first argument. Host-owned; valid for the call. */
typedef struct lathe_call {
    lathe_head head;
    const struct lathe_host *host; /**< the host table */
    void *host_private;            /**< the host's; do not touch */
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
} lathe_host;

/*
 * Calling conventions. Each method's `function` has its kind's fixed leading arguments, then
 * one argument per declared hyperparameter, in declaration order, with the C type of its
 * lathe_param_type. It returns a lathe_status. [thread: any]
 *
 * Quantizer — fake-quantize `input` into `output` (same shape), and report the parameters:
 *   int32_t f(lathe_call *call, const DLTensor *input, DLTensor *output, ...hyperparameters);
 *   The channel axis of per-channel quantization is dimension 0 (output channels of a weight).
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
 */
typedef void (*lathe_function)(void);

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
