/* formats: symmetric integers with one scale per group of a row (e.g. INT4 g128). */
#include "formats_internal.h"

int32_t quantize_int_group(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, int32_t group_size,
                           int32_t scale_format) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    if (bits < 2 || bits > 8) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "bits must be in 2..8, got %d", (int)bits);
    if (group_size < 1) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "group_size must be positive, got %d", (int)group_size);
    if (scale_format < 0 || scale_format >= INT_SCALE_COUNT)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "scale_format must be 0 (fp16), 1 (bf16) or 2 (fp32), got %d",
                           (int)scale_format);
    group_job j;
    int32_t status = prepare_groups(call, input, output, (size_t)group_size, &j);
    if (status != LATHE_OK) return status;
    const int32_t qmax = (int32_t)((1u << (bits - 1)) - 1u);
    const minifloat_format *stored = scale_format == INT_SCALE_FP16 ? &FORMAT_FP16
                                     : scale_format == INT_SCALE_BF16 ? &FORMAT_BF16 : NULL;
    static const char *const names[INT_SCALE_COUNT] = {"fp16", "bf16", "fp32"};
    for (size_t b = 0; b < j.groups; b++) {
        size_t n;
        const size_t start = group_start(&j, b, &n);
        const float *x = j.t.x + start;
        float *y = j.t.y + start;
        float amax = max_abs_finite(x, n);
        if (amax < 0) return lathe_fail(call, LATHE_INVALID_ARGUMENT, formats_non_finite);
        float s = 1.0f; /* an all-zero group */
        if (amax > 0) {
            s = amax / (float)qmax;
            if (stored != NULL) {
                if ((double)s > stored->max_finite)
                    return lathe_failf(call, LATHE_UNSUPPORTED,
                                       "row %zu, group %zu: the scale max|x|/%d = %g exceeds the largest %s value %g "
                                       "(use scale_format fp32)",
                                       b / j.per_row, b % j.per_row, (int)qmax, (double)s, names[scale_format],
                                       stored->max_finite);
                double rounded = minifloat_round((double)s, stored);
                /* Below the format's smallest subnormal: its smallest positive value. */
                if (rounded == 0) rounded = ldexp(1.0, 1 - stored->bias - stored->mantissa_bits);
                s = (float)rounded;
            }
            if (s == 0) s = FLT_TRUE_MIN;
        }
        j.scales[b] = s;
        for (size_t i = 0; i < n; i++) {
            double code = rint((double)x[i] / (double)s);
            code = code > qmax ? qmax : code < -qmax ? -qmax : code;
            y[i] = (float)(code * (double)s);
        }
    }
    const int32_t formats[INT_SCALE_COUNT] = {LATHE_SCALE_FP16, LATHE_SCALE_BF16, LATHE_SCALE_FP32};
    return report_formats(call, LATHE_QSCHEME_SYMMETRIC, bits, qmax, 0, j.groups, j.scales, group_size,
                          LATHE_ELEMENT_INT, formats[scale_format]);
}
