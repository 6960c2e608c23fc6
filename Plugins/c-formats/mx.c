/* formats: OCP Microscaling MXFP4 and MXFP8 (32-element blocks, E8M0 shared scale). */
#include "formats_internal.h"

/** The OCP MX block size. */
enum { MX_BLOCK = 32 };

/*
 * OCP MX v1.0, section 6.3: per block, X = 2^(floor(log2(amax)) - emax_elem) (emax_elem: the
 * exponent of the element format's largest normal, 2 for E2M1, 8 for E4M3), clamped to the E8M0
 * range 2^-127..2^127 (only the lower end can bind for float input); P_i = x_i / X rounded to
 * the element format, ties to even, saturating to its largest normal. An all-zero block reports
 * scale 1. NaN rule: the spec gives a block holding a NaN the NaN scale; the host takes finite
 * scales only, so a NaN or infinite input is refused with a reason instead.
 */
static int32_t quantize_mx(lathe_call *call, const DLTensor *input, DLTensor *output, const minifloat_format *f) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    group_job j;
    int32_t status = prepare_groups(call, input, output, MX_BLOCK, &j);
    if (status != LATHE_OK) return status;
    const int emax = ilogb(f->max_finite);
    for (size_t b = 0; b < j.groups; b++) {
        size_t n;
        const size_t start = group_start(&j, b, &n);
        const float *x = j.t.x + start;
        float *y = j.t.y + start;
        float amax = max_abs_finite(x, n);
        if (amax < 0) return lathe_fail(call, LATHE_INVALID_ARGUMENT, formats_non_finite);
        int k = 0;
        if (amax > 0) {
            k = ilogbf(amax) - emax;
            if (k < -127) k = -127;
        }
        j.scales[b] = ldexpf(1.0f, k);
        const double scale = ldexp(1.0, k);
        for (size_t i = 0; i < n; i++) y[i] = (float)(minifloat_round(ldexp((double)x[i], -k), f) * scale);
    }
    return report_formats(call, LATHE_QSCHEME_MINIFLOAT, minifloat_width(f), 0, 0, j.groups, j.scales, MX_BLOCK,
                          f->element, LATHE_SCALE_E8M0);
}

int32_t quantize_mxfp4(lathe_call *call, const DLTensor *input, DLTensor *output) {
    return quantize_mx(call, input, output, &FORMAT_FP4_E2M1);
}

int32_t quantize_mxfp8(lathe_call *call, const DLTensor *input, DLTensor *output) {
    return quantize_mx(call, input, output, &FORMAT_FP8_E4M3);
}
