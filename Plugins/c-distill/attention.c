/* distill: attention transfer (see distill.c for the formulas and references). */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* distill/attention                                                                           */

/*
 * Adaptive average pooling of a map with R spatial axes, one axis at a time (separable), with
 * torch's windows: output k of an axis of length L -> l averages inputs
 * [floor(k L / l), ceil((k + 1) L / l)). An axis whose length does not change is skipped.
 */

/** Pools axis `len_in` -> `len_out` of a row-major [outer, len_in, inner] array. */
static void pool_axis(const double *in, double *out, size_t outer, size_t len_in, size_t len_out, size_t inner) {
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < len_out; k++) {
            size_t start = k * len_in / len_out, end = ((k + 1) * len_in + len_out - 1) / len_out;
            double w = 1.0 / (double)(end - start);
            double *dst = out + (o * len_out + k) * inner;
            for (size_t i = 0; i < inner; i++) dst[i] = 0;
            for (size_t j = start; j < end; j++) {
                const double *src = in + (o * len_in + j) * inner;
                for (size_t i = 0; i < inner; i++) dst[i] += src[i];
            }
            for (size_t i = 0; i < inner; i++) dst[i] *= w;
        }
}

/** The transpose of pool_axis: spreads output gradients back over each window. */
static void pool_axis_backward(const double *gout, double *gin, size_t outer, size_t len_in, size_t len_out, size_t inner) {
    memset(gin, 0, outer * len_in * inner * sizeof(double));
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < len_out; k++) {
            size_t start = k * len_in / len_out, end = ((k + 1) * len_in + len_out - 1) / len_out;
            double w = 1.0 / (double)(end - start);
            const double *src = gout + (o * len_out + k) * inner;
            for (size_t j = start; j < end; j++) {
                double *dst = gin + (o * len_in + j) * inner;
                for (size_t i = 0; i < inner; i++) dst[i] += src[i] * w;
            }
        }
}

static size_t product(const size_t *values, size_t from, size_t to) {
    size_t p = 1;
    for (size_t i = from; i < to; i++) p *= values[i];
    return p;
}

/** Pools `src` (shape `in`) to shape `out`; returns src or one of the two work buffers. */
static const double *pool_forward(const double *src, const size_t *in, const size_t *out, size_t axes, double *work_a,
                                  double *work_b) {
    const double *current = src;
    for (size_t k = 0; k < axes; k++) {
        if (in[k] == out[k]) continue;
        double *dst = current == work_a ? work_b : work_a;
        pool_axis(current, dst, product(out, 0, k), in[k], out[k], product(in, k + 1, axes));
        current = dst;
    }
    return current;
}

/** Gradient w.r.t. the pooling input from `gout` (shape `out`); returns gout or a work buffer. */
static const double *pool_backward(const double *gout, const size_t *in, const size_t *out, size_t axes, double *work_a,
                                   double *work_b) {
    const double *current = gout;
    for (size_t k = axes; k-- > 0;) {
        if (in[k] == out[k]) continue;
        double *dst = current == work_a ? work_b : work_a;
        pool_axis_backward(current, dst, product(out, 0, k), in[k], out[k], product(in, k + 1, axes));
        current = dst;
    }
    return current;
}

/** |x|^p, with the common p = 2 exact and fast. */
static double power_abs(double x, double p) {
    if (p == 2.0) return x * x;
    if (p == 1.0) return fabs(x);
    return pow(fabs(x), p);
}

/** d|x|^p / dx = p |x|^(p-1) sign(x), 0 at x = 0. */
static double power_abs_grad(double x, double p) {
    if (x == 0) return 0;
    if (p == 2.0) return 2.0 * x;
    if (p == 1.0) return x > 0 ? 1.0 : -1.0;
    return p * pow(fabs(x), p - 1.0) * (x > 0 ? 1.0 : -1.0);
}

/** Channels, number of spatial axes and their extents of an attention input. */
static void attention_layout(const view *v, size_t *channels, size_t *axes, size_t *spatial) {
    if (v->rank == 2) {  /* [B, D]: one channel, D positions */
        *channels = 1;
        *axes = 1;
        spatial[0] = v->shape[1];
    } else {
        *channels = v->shape[1];
        *axes = (size_t)v->rank - 2;
        for (size_t k = 0; k < *axes; k++) spatial[k] = v->shape[k + 2];
    }
}

/** Q[j] = sum_c |f[c, j]|^p for one sample. */
static void attention_energy(const float *f, size_t channels, size_t positions, double p, double *q) {
    for (size_t j = 0; j < positions; j++) q[j] = 0;
    for (size_t c = 0; c < channels; c++) {
        const float *row = f + c * positions;
        for (size_t j = 0; j < positions; j++) q[j] += power_abs((double)row[j], p);
    }
}


/**
 * Attention transfer. Per sample b, the attention map of a feature map f [C, spatial...] is
 * Q_j = sum_c |f_cj|^p over its positions j, average-pooled (adaptively, as torch's
 * adaptive_avg_pool) to the smaller of the two maps' extents on each spatial axis, then
 * a = Q / max(||Q||_2, 1e-12). loss = (1/B) sum_b ||a_s,b - a_t,b||_2^2.
 */
int32_t attention(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                         double *loss, DLTensor *student_grad, float p_value) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 2, &a);
    if (status != LATHE_OK) return status;
    if (!(p_value >= 1.0f && p_value <= 4.0f)) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "p must be in [1, 4], got %g", (double)p_value);
    char s1[96], s2[96];
    if (a.student.rank != a.teacher.rank)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                    "attention needs student and teacher of the same rank ([B, C, H, W] or [B, D]); got %s and %s",
                    shape_text(&a.student, s1, sizeof s1), shape_text(&a.teacher, s2, sizeof s2));
    size_t cs, ct, axes, in_s[MAX_RANK], in_t[MAX_RANK], out[MAX_RANK];
    attention_layout(&a.student, &cs, &axes, in_s);
    attention_layout(&a.teacher, &ct, &axes, in_t);
    for (size_t k = 0; k < axes; k++) out[k] = in_s[k] < in_t[k] ? in_s[k] : in_t[k];
    const size_t ps = product(in_s, 0, axes), pt = product(in_t, 0, axes), po = product(out, 0, axes);
    const size_t biggest = ps > pt ? ps : pt;
    const double p = (double)p_value;

    double *qs = scratch_doubles(call, ps, &status), *qt = qs ? scratch_doubles(call, pt, &status) : NULL;
    double *work_a = qt ? scratch_doubles(call, biggest, &status) : NULL;
    double *work_b = work_a ? scratch_doubles(call, biggest, &status) : NULL;
    double *as = work_b ? scratch_doubles(call, 3 * po, &status) : NULL;
    if (as == NULL) return status;
    double *at = as + po, *dp = at + po;

    const size_t batch = a.student.batch;
    const double inv_batch = 1.0 / (double)batch;
    double total = 0;
    for (size_t b = 0; b < batch; b++) {
        const float *fs = a.student.data + b * a.student.per_sample;
        const float *ft = a.teacher.data + b * a.teacher.per_sample;
        float *g = a.grad.data + b * a.student.per_sample;

        attention_energy(ft, ct, pt, p, qt);
        normalize(pool_forward(qt, in_t, out, axes, work_a, work_b), at, po);
        attention_energy(fs, cs, ps, p, qs);
        const double norm = normalize(pool_forward(qs, in_s, out, axes, work_a, work_b), as, po);

        /* loss and d loss / d a_s = 2 (a_s - a_t) / B */
        double sum = 0;
        for (size_t k = 0; k < po; k++) {
            double d = as[k] - at[k];
            sum += d * d;
            dp[k] = 2.0 * d * inv_batch;
        }
        total += sum;
        /* through the normalisation: (g - a (a . g)) / ||P|| (g / eps below eps, as torch) */
        if (norm >= NORM_EPS) {
            double along = dot_d(as, dp, po);
            for (size_t k = 0; k < po; k++) dp[k] = (dp[k] - as[k] * along) / norm;
        } else {
            for (size_t k = 0; k < po; k++) dp[k] /= NORM_EPS;
        }
        /* through the pooling, then |f|^p */
        const double *dq = pool_backward(dp, in_s, out, axes, work_a, work_b);
        for (size_t c = 0; c < cs; c++) {
            const float *row = fs + c * ps;
            float *grow = g + c * ps;
            for (size_t j = 0; j < ps; j++) grow[j] = (float)(dq[j] * power_abs_grad((double)row[j], p));
        }
    }
    *loss = total * inv_batch;
    return LATHE_OK;
}

