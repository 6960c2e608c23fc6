/* formats: the one minifloat rounding, the formats, and the group layout shared by the methods. */
#include "formats_internal.h"

#include <limits.h>

const minifloat_format FORMAT_FP8_E4M3 = {4, 3, 7, 448.0, LATHE_ELEMENT_FP8_E4M3};
const minifloat_format FORMAT_FP8_E5M2 = {5, 2, 15, 57344.0, LATHE_ELEMENT_FP8_E5M2};
const minifloat_format FORMAT_FP4_E2M1 = {2, 1, 1, 6.0, LATHE_ELEMENT_FP4_E2M1};
const minifloat_format FORMAT_FP16 = {5, 10, 15, 65504.0, -1};
const minifloat_format FORMAT_BF16 = {8, 7, 127, 0x1.FEp127, -1};

const char formats_non_finite[] = "input contains NaN or infinite values (the formats quantize finite tensors only)";

double minifloat_round(double v, const minifloat_format *f) {
    double a = fabs(v);
    if (a >= f->max_finite) return copysign(f->max_finite, v);
    if (a == 0) return v;
    int e = ilogb(a);
    const int emin = 1 - f->bias; /* exponent of the smallest normal */
    if (e < emin) e = emin;       /* subnormals: the spacing of the smallest binade */
    double spacing = ldexp(1.0, e - f->mantissa_bits);
    double r = rint(a / spacing) * spacing; /* ties to even; a carry into 2^(e+1) is representable */
    if (r > f->max_finite) r = f->max_finite;
    return copysign(r, v);
}

float max_abs_finite(const float *x, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!(a <= FLT_MAX)) return -1;
        m = a > m ? a : m;
    }
    return m;
}

int32_t prepare_groups(lathe_call *call, const DLTensor *input, DLTensor *output, size_t group, group_job *out) {
    memset(out, 0, sizeof *out);
    if (call != NULL && input != NULL && input->ndim == 0)
        return lathe_fail(call, LATHE_UNSUPPORTED, "groups need a tensor with a dimension 0 (rows); got a scalar");
    int32_t status = lathe_prepare_quantizer(call, input, output, true, &out->t);
    if (status != LATHE_OK) return status;
    if (group == 0) return lathe_fail(call, LATHE_INVALID_ARGUMENT, "the group size must be positive");
    out->rows = out->t.channels;
    out->row = out->t.inner;
    out->group = group;
    out->per_row = out->row / group + (out->row % group != 0);
    if (out->per_row != 0 && out->rows > UINT32_MAX / out->per_row)
        return lathe_failf(call, LATHE_UNSUPPORTED, "%zu rows of %zu groups: more than 2^32-1 scales", out->rows, out->per_row);
    out->groups = out->rows * out->per_row;
    out->empty_scale = 1.0f;
    out->scales = &out->empty_scale;
    if (out->groups > 1) {
        out->scales = lathe_scratch(call, out->groups * sizeof(float));
        if (!out->scales) return lathe_fail(call, LATHE_NO_MEMORY, "out of scratch memory for the group scales");
    }
    return LATHE_OK;
}

int32_t report_formats(lathe_call *call, int32_t scheme, int32_t bits, int32_t qmax, int32_t axis, size_t count,
                       const float *scales, int32_t group, int32_t element_format, int32_t scale_format) {
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = scheme;
    q.bits = bits;
    q.axis = axis;
    q.qmin = -qmax;
    q.qmax = qmax;
    q.count = (uint32_t)count;
    q.scales = scales;
    q.group_size = group;
    q.element_format = element_format;
    q.scale_format = scale_format;
    return lathe_report_qparams(call, &q);
}
