/* formats: FP8 E4M3 / E5M2 with an fp32 scale per tensor or per output channel. */
#include "formats_internal.h"

/*
 * scale = amax / max_finite (float; 1 for an all-zero channel, the smallest positive float if the
 * quotient underflows to 0), x_q = scale * e(x / scale) with x / scale in double (close enough
 * to the exact quotient that the rounding decision is the exact one), e() rounding to the format
 * (ties to even, subnormals, saturating to 448 / 57344) and the product rounded once to float.
 */
int32_t quantize_fp8(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t format, bool per_channel) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    if (format < 0 || format >= FP8_COUNT)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "format must be 0 (e4m3) or 1 (e5m2), got %d", (int)format);
    const minifloat_format *f = format == FP8_E4M3 ? &FORMAT_FP8_E4M3 : &FORMAT_FP8_E5M2;
    lathe_quantizer_job j;
    int32_t status = lathe_prepare_quantizer(call, input, output, per_channel, &j);
    if (status != LATHE_OK) return status;
    float one = 1.0f;
    float *scales = &one;
    if (j.channels > 1) {
        scales = lathe_scratch(call, j.channels * sizeof(float));
        if (!scales) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for the per-channel scales");
    }
    for (size_t c = 0; c < j.channels; c++) {
        const float *x = j.x + c * j.inner;
        float *y = j.y + c * j.inner;
        float amax = max_abs_finite(x, j.inner);
        if (amax < 0) return lathe_fail(call, LATHE_INVALID_ARGUMENT, formats_non_finite);
        float s = amax > 0 ? amax / (float)f->max_finite : 1.0f;
        if (s == 0) s = FLT_TRUE_MIN;
        scales[c] = s;
        for (size_t i = 0; i < j.inner; i++) y[i] = (float)(minifloat_round((double)x[i] / (double)s, f) * (double)s);
    }
    return report_formats(call, LATHE_QSCHEME_MINIFLOAT, minifloat_width(f), 0, per_channel ? 0 : -1, j.channels, scales,
                          0, f->element, LATHE_SCALE_FP32);
}
