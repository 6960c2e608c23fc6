/* formats_internal.h — what the formats plugin's method files share (private). */
#ifndef FORMATS_INTERNAL_H
#define FORMATS_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/**
 * A binary floating-point format of 1 sign, `exponent_bits` exponent and `mantissa_bits`
 * mantissa bits with exponent bias `bias`, gradual underflow (subnormals) and largest finite
 * magnitude `max_finite` (given, since OCP E4M3 reserves only S.1111.111 for NaN and so goes
 * past the IEEE rule: 448, not 240).
 */
typedef struct minifloat_format {
    int exponent_bits;
    int mantissa_bits;
    int bias;
    double max_finite;
    int32_t element;   /**< lathe_element_format, or -1 for formats used only for scales */
} minifloat_format;

LATHE_SUPPORT_HIDDEN extern const minifloat_format FORMAT_FP8_E4M3;
LATHE_SUPPORT_HIDDEN extern const minifloat_format FORMAT_FP8_E5M2;
LATHE_SUPPORT_HIDDEN extern const minifloat_format FORMAT_FP4_E2M1;
LATHE_SUPPORT_HIDDEN extern const minifloat_format FORMAT_FP16;
LATHE_SUPPORT_HIDDEN extern const minifloat_format FORMAT_BF16;

/** Bits of one element: 1 + exponent + mantissa. */
static inline int minifloat_width(const minifloat_format *f) { return 1 + f->exponent_bits + f->mantissa_bits; }

/**
 * `v` rounded to the nearest value of format `f`, ties to even (the default rounding mode),
 * saturating to +-max_finite; subnormals are the multiples of 2^(1 - bias - mantissa_bits)
 * below 2^(1 - bias). `v` must be finite. The sign of zero is kept. Exact: the result and
 * every intermediate are doubles computed without rounding error (|v| / 2^k is a power-of-two
 * scaling, rint() is exact).
 */
LATHE_SUPPORT_HIDDEN double minifloat_round(double v, const minifloat_format *f);

/** A weight split into rows (dimension 0) and groups of `group` consecutive elements of a row;
 *  the last group of a row may be shorter. */
typedef struct group_job {
    lathe_quantizer_job t;
    size_t rows;          /**< shape[0] */
    size_t row;           /**< elements per row (everything after dimension 0) */
    size_t group;         /**< elements per group */
    size_t per_row;       /**< groups per row: ceil(row / group) */
    size_t groups;        /**< rows * per_row: the number of scales */
    float *scales;        /**< `groups` scales (scratch), or a stack slot when there are none */
    float empty_scale;
} group_job;

/** Where group `b` (row-major: row b / per_row, its (b % per_row)-th group) starts in the tensor;
 *  its length in *n (the group size, or what is left of the row). */
static inline size_t group_start(const group_job *j, size_t b, size_t *n) {
    const size_t row = b / j->per_row, offset = (b % j->per_row) * j->group;
    *n = j->row - offset < j->group ? j->row - offset : j->group;
    return row * j->row + offset;
}

/** Checks the tensors (float32 CPU, compact, at least one dimension), splits them into groups
 *  of `group` elements and gets the scale array; reports and returns the failure status. */
LATHE_SUPPORT_HIDDEN int32_t prepare_groups(lathe_call *call, const DLTensor *input, DLTensor *output,
                                            size_t group, group_job *out);

/** Largest |x[i]| over x[0..n); -1 if a value is NaN or infinite. */
LATHE_SUPPORT_HIDDEN float max_abs_finite(const float *x, size_t n);

/** Reports MINIFLOAT or SYMMETRIC parameters (`count` scales along axis `axis`, group size
 *  `group` or 0) through the host. */
LATHE_SUPPORT_HIDDEN int32_t report_formats(lathe_call *call, int32_t scheme, int32_t bits, int32_t qmax,
                                            int32_t axis, size_t count, const float *scales, int32_t group,
                                            int32_t element_format, int32_t scale_format);

LATHE_SUPPORT_HIDDEN extern const char formats_non_finite[];

/* The methods, registered by formats.c. */
LATHE_SUPPORT_HIDDEN int32_t quantize_int_group(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits,
                                                int32_t group_size, int32_t scale_format);
LATHE_SUPPORT_HIDDEN int32_t quantize_mxfp4(lathe_call *call, const DLTensor *input, DLTensor *output);
LATHE_SUPPORT_HIDDEN int32_t quantize_mxfp8(lathe_call *call, const DLTensor *input, DLTensor *output);
LATHE_SUPPORT_HIDDEN int32_t quantize_fp8(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t format,
                                          bool per_channel);

/** int_group `scale_format` choices, in declaration order. */
enum { INT_SCALE_FP16 = 0, INT_SCALE_BF16 = 1, INT_SCALE_FP32 = 2, INT_SCALE_COUNT = 3 };
/** fp8 `format` choices. */
enum { FP8_E4M3 = 0, FP8_E5M2 = 1, FP8_COUNT = 2 };

#endif
