/*
 * distill.c — the `distill` plugin: feature and relation knowledge-distillation losses.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.0) only. Built by SwiftPM as
 * libLatheDistillLosses.so; standalone:
 *   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -I Sources/CLathePlugin/include \
 *      -o libdistill.so Plugins/c-distill/distill.c -lm
 *
 * Methods (each: loss = a scalar, mean over the batch as stated; gradient w.r.t. the student)
 *   distill/hint          FEATURE   FitNets hint: mean squared error (Romero et al., ICLR 2015)
 *   distill/attention     RELATION  attention transfer (Zagoruyko & Komodakis, ICLR 2017)
 *   distill/rkd-distance  RELATION  RKD distance-wise loss (Park et al., CVPR 2019)
 *   distill/rkd-angle     RELATION  RKD angle-wise loss (Park et al., CVPR 2019)
 *   distill/sp            RELATION  similarity-preserving loss (Tung & Mori, ICCV 2019)
 * The formulas are in each method's `doc` string below (and so in registry/distill.toml).
 *
 * Conventions shared by every method
 *   - Inputs: float32 CPU tensors, student [B, ...] and teacher [B, ...] with the same B >= 1.
 *     The relation losses read each sample as a flat vector (its trailing dimensions
 *     multiplied); `attention` keeps the layout [B, C, spatial...].
 *   - Labels are ignored by every method here: the host checks them (int64 [B]) and this
 *     plugin checks their shape, but never reads a value. The label term (cross-entropy) is
 *     the host's, weighted by its `ce_weight`.
 *   - Everything is accumulated in double; outputs are rounded to float32 once.
 *   - Non-finite inputs are refused (LATHE_INVALID_ARGUMENT) with the offending element.
 *   - Deterministic (fixed loop order, no threads, no randomness) and thread-safe: nothing
 *     global is written; temporaries come from host->scratch and live for one call.
 *   - Vector normalisation follows torch.nn.functional.normalize: v / max(||v||, 1e-12). Where
 *     a vector is exactly zero its gradient is defined as 0 (see each method's note): the
 *     only case where these losses differ from autograd on the reference formula, which would
 *     divide by 1e-12 there.
 */
#include <lathe_plugin.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/** F.normalize's epsilon. */
#define NORM_EPS 1e-12

/** Largest tensor rank accepted. */
enum { MAX_RANK = 8 };

/* ------------------------------------------------------------------------------------------ */
/* Host services, read only within the size the host declared                                  */

#define HOST_HAS(host, field) \
    ((host) != NULL && (size_t)(host)->head.size >= offsetof(lathe_host, field) + sizeof((host)->field) && (host)->field != NULL)

/** Reports `status` with a formatted message (once) and returns it. */
static int32_t fail(lathe_call *call, int32_t status, const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int32_t fail(lathe_call *call, int32_t status, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (call != NULL && HOST_HAS(call->host, report_error)) call->host->report_error(call, message);
    return status;
}

/** `count` doubles of scratch memory, or NULL after reporting LATHE_NO_MEMORY. */
static double *scratch_doubles(lathe_call *call, size_t count, int32_t *status) {
    if (count == 0) count = 1;
    if (count > SIZE_MAX / sizeof(double)) {
        *status = fail(call, LATHE_NO_MEMORY, "scratch request of %zu doubles overflows", count);
        return NULL;
    }
    void *memory = HOST_HAS(call->host, scratch) ? call->host->scratch(call, count * sizeof(double)) : NULL;
    if (memory == NULL) {
        *status = fail(call, LATHE_NO_MEMORY, "cannot get %zu bytes of scratch memory from the host", count * sizeof(double));
        return NULL;
    }
    return (double *)memory;
}

/* ------------------------------------------------------------------------------------------ */
/* Tensor views                                                                                */

/** A checked compact row-major float32 CPU tensor. */
typedef struct view {
    float *data;        /**< writable only for the output */
    int32_t rank;
    size_t shape[MAX_RANK];
    size_t batch;       /**< shape[0] */
    size_t per_sample;  /**< product of shape[1...] (1 for rank 1) */
    size_t count;       /**< batch * per_sample */
} view;

/** Checks `tensor` is a compact CPU tensor of `code`/`bits` with rank in [min_rank, MAX_RANK]. */
static int32_t check_tensor(lathe_call *call, const DLTensor *tensor, const char *name, uint8_t code, uint8_t bits,
                            int32_t min_rank, view *out) {
    if (tensor == NULL) return fail(call, LATHE_INVALID_ARGUMENT, "%s is NULL", name);
    if (tensor->device.device_type != kDLCPU) return fail(call, LATHE_UNSUPPORTED, "%s must be a CPU tensor", name);
    if (tensor->dtype.code != code || tensor->dtype.bits != bits || tensor->dtype.lanes != 1)
        return fail(call, LATHE_UNSUPPORTED, "%s must be %s", name, code == kDLFloat ? "float32" : "int64");
    if (tensor->ndim < min_rank || tensor->ndim > MAX_RANK)
        return fail(call, LATHE_INVALID_ARGUMENT, "%s must have %d to %d dimensions, got %d", name, (int)min_rank,
                    (int)MAX_RANK, (int)tensor->ndim);
    if (tensor->shape == NULL) return fail(call, LATHE_INVALID_ARGUMENT, "%s has no shape", name);
    out->rank = tensor->ndim;
    size_t count = 1;
    for (int32_t d = 0; d < tensor->ndim; d++) {
        if (tensor->shape[d] < 0) return fail(call, LATHE_INVALID_ARGUMENT, "%s has a negative extent", name);
        size_t extent = (size_t)tensor->shape[d];
        if (extent != 0 && count > SIZE_MAX / sizeof(double) / extent)
            return fail(call, LATHE_UNSUPPORTED, "%s is too large", name);
        count *= extent;
        out->shape[d] = extent;
    }
    if (tensor->strides != NULL) {
        int64_t expected = 1;
        for (int32_t d = tensor->ndim - 1; d >= 0; d--) {
            if (tensor->shape[d] > 1 && tensor->strides[d] != expected)
                return fail(call, LATHE_UNSUPPORTED, "%s must be compact row-major", name);
            expected *= tensor->shape[d];
        }
    }
    if (count > 0 && tensor->data == NULL) return fail(call, LATHE_INVALID_ARGUMENT, "%s has no data", name);
    out->data = count > 0 ? (float *)(void *)((char *)tensor->data + tensor->byte_offset) : NULL;
    out->batch = out->shape[0];
    out->count = count;
    out->per_sample = out->batch > 0 ? count / out->batch : 0;
    return LATHE_OK;
}

static int same_shape(const view *a, const view *b) {
    if (a->rank != b->rank) return 0;
    for (int32_t d = 0; d < a->rank; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/** "[6, 4, 3, 3]" into `buffer`. */
static const char *shape_text(const view *v, char *buffer, size_t size) {
    size_t used = (size_t)snprintf(buffer, size, "[");
    for (int32_t d = 0; d < v->rank && used < size; d++)
        used += (size_t)snprintf(buffer + used, size - used, d ? ", %zu" : "%zu", v->shape[d]);
    if (used < size) snprintf(buffer + used, size - used, "]");
    return buffer;
}

static int32_t check_finite(lathe_call *call, const view *v, const char *name) {
    for (size_t i = 0; i < v->count; i++)
        if (!isfinite(v->data[i])) return fail(call, LATHE_INVALID_ARGUMENT, "%s contains NaN or infinity (element %zu)", name, i);
    return LATHE_OK;
}

/** The fixed arguments of a loss, checked. */
typedef struct loss_args {
    view student, teacher, grad;
} loss_args;

/**
 * Checks the calling convention: student and teacher float32 [B, ...] with the same B >= 1 and
 * finite values, labels int64 [B] (never read), loss non-NULL, student_grad of the student's
 * shape. `min_rank` is the smallest student/teacher rank the method accepts.
 */
static int32_t prologue(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                        const double *loss, DLTensor *student_grad, int32_t min_rank, loss_args *a) {
    int32_t status;
    view y;
    char s1[96], s2[96];
    if ((status = check_tensor(call, student, "student", kDLFloat, 32, min_rank, &a->student)) != LATHE_OK) return status;
    if ((status = check_tensor(call, teacher, "teacher", kDLFloat, 32, min_rank, &a->teacher)) != LATHE_OK) return status;
    if ((status = check_tensor(call, labels, "labels", kDLInt, 64, 1, &y)) != LATHE_OK) return status;
    if ((status = check_tensor(call, student_grad, "student_grad", kDLFloat, 32, min_rank, &a->grad)) != LATHE_OK) return status;
    if (loss == NULL) return fail(call, LATHE_INVALID_ARGUMENT, "loss is NULL");
    if (a->student.batch < 1 || a->student.per_sample < 1)
        return fail(call, LATHE_INVALID_ARGUMENT, "student must be [B, ...] with B >= 1 and no empty dimension, got %s",
                    shape_text(&a->student, s1, sizeof s1));
    if (a->teacher.batch != a->student.batch || a->teacher.per_sample < 1)
        return fail(call, LATHE_INVALID_ARGUMENT, "teacher %s must share the student's batch size %zu and not be empty",
                    shape_text(&a->teacher, s1, sizeof s1), a->student.batch);
    if (y.rank != 1 || y.shape[0] != a->student.batch)
        return fail(call, LATHE_INVALID_ARGUMENT, "labels must be [%zu], got %s", a->student.batch, shape_text(&y, s1, sizeof s1));
    if (!same_shape(&a->grad, &a->student))
        return fail(call, LATHE_INVALID_ARGUMENT, "student_grad %s differs from student %s", shape_text(&a->grad, s1, sizeof s1),
                    shape_text(&a->student, s2, sizeof s2));
    if ((status = check_finite(call, &a->student, "student")) != LATHE_OK) return status;
    if ((status = check_finite(call, &a->teacher, "teacher")) != LATHE_OK) return status;
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Small numeric helpers                                                                       */

/** Dot product of two float rows in double, four accumulators (fixed order: deterministic). */
static double dot_f(const float *a, const float *b, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) acc[k] += (double)a[i + k] * (double)b[i + k];
    for (; i < n; i++) acc[0] += (double)a[i] * (double)b[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/** Same for double rows. */
static double dot_d(const double *a, const double *b, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) acc[k] += a[i + k] * b[i + k];
    for (; i < n; i++) acc[0] += a[i] * b[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/** Squared Euclidean distance between two float rows, in double. */
static double distance2_f(const float *a, const float *b, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) {
            double d = (double)a[i + k] - (double)b[i + k];
            acc[k] += d * d;
        }
    for (; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        acc[0] += d * d;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/** Huber (smooth L1, delta 1): 0.5 r^2 for |r| < 1, |r| - 0.5 otherwise. */
static double huber(double r) {
    double a = fabs(r);
    return a < 1.0 ? 0.5 * r * r : a - 0.5;
}

/** Its derivative: r clamped to [-1, 1]. */
static double huber_grad(double r) { return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r); }

/* ------------------------------------------------------------------------------------------ */
/* distill/hint                                                                                */

/**
 * FitNets hint: loss = (1 / N) sum_i (s_i - t_i)^2 over all N = B * (elements per sample)
 * elements (torch's F.mse_loss, i.e. the batch mean of per-sample mean squared errors);
 * gradient 2 (s - t) / N.
 */
static int32_t hint(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                    double *loss, DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    if (!same_shape(&a.student, &a.teacher)) {
        char s1[96], s2[96];
        return fail(call, LATHE_INVALID_ARGUMENT,
                    "hint needs equal student and teacher shapes (the host adapts the student); got %s and %s",
                    shape_text(&a.student, s1, sizeof s1), shape_text(&a.teacher, s2, sizeof s2));
    }
    const float *s = a.student.data, *t = a.teacher.data;
    float *g = a.grad.data;
    const size_t n = a.student.count;
    const double scale = 1.0 / (double)n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)s[i] - (double)t[i];
        sum += d * d;
        g[i] = (float)(2.0 * d * scale);
    }
    *loss = sum * scale;
    return LATHE_OK;
}

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

/** The L2 norm of `n` values and the vector divided by max(norm, NORM_EPS) into `out`. */
static double normalize(const double *x, double *out, size_t n) {
    double norm = sqrt(dot_d(x, x, n));
    double inv = 1.0 / (norm > NORM_EPS ? norm : NORM_EPS);
    for (size_t i = 0; i < n; i++) out[i] = x[i] * inv;
    return norm;
}

/**
 * Attention transfer. Per sample b, the attention map of a feature map f [C, spatial...] is
 * Q_j = sum_c |f_cj|^p over its positions j, average-pooled (adaptively, as torch's
 * adaptive_avg_pool) to the smaller of the two maps' extents on each spatial axis, then
 * a = Q / max(||Q||_2, 1e-12). loss = (1/B) sum_b ||a_s,b - a_t,b||_2^2.
 */
static int32_t attention(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                         double *loss, DLTensor *student_grad, float p_value) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 2, &a);
    if (status != LATHE_OK) return status;
    if (!(p_value >= 1.0f && p_value <= 4.0f)) return fail(call, LATHE_INVALID_ARGUMENT, "p must be in [1, 4], got %g", (double)p_value);
    char s1[96], s2[96];
    if (a.student.rank != a.teacher.rank)
        return fail(call, LATHE_INVALID_ARGUMENT,
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

/* ------------------------------------------------------------------------------------------ */
/* distill/rkd-distance                                                                        */

/**
 * Pairwise Euclidean distances of the B rows (length n) of x into d [B, B] (zero diagonal);
 * returns their mean over ordered pairs with d > 0 and that pair count in *positive.
 */
static double pairwise_distances(const float *x, size_t batch, size_t n, double *d, size_t *positive) {
    double sum = 0;
    size_t count = 0;
    for (size_t i = 0; i < batch; i++) {
        d[i * batch + i] = 0;
        for (size_t j = i + 1; j < batch; j++) {
            double v = sqrt(distance2_f(x + i * n, x + j * n, n));
            d[i * batch + j] = v;
            d[j * batch + i] = v;
            if (v > 0) {
                sum += 2 * v;
                count += 2;
            }
        }
    }
    *positive = count;
    return count > 0 ? sum / (double)count : 0;
}

/**
 * RKD distance-wise loss. Rows flattened to vectors; d_ij = ||x_i - x_j||_2, mu = mean of the
 * d_ij > 0 over ordered pairs i != j, e = d / mu (e = 0 if every distance is 0).
 * loss = (1/B^2) sum_{i,j} huber(e^s_ij - e^t_ij), Huber with delta 1 (smooth L1).
 */
static int32_t rkd_distance(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                            double *loss, DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    const size_t batch = a.student.batch, ns = a.student.per_sample, nt = a.teacher.per_sample;
    if (batch > SIZE_MAX / sizeof(double) / batch / 3) return fail(call, LATHE_UNSUPPORTED, "batch %zu is too large", batch);
    double *ds = scratch_doubles(call, 3 * batch * batch, &status);
    if (ds == NULL) return status;
    double *dt = ds + batch * batch, *gd = dt + batch * batch;

    size_t ks, kt;
    const double mu_s = pairwise_distances(a.student.data, batch, ns, ds, &ks);
    const double mu_t = pairwise_distances(a.teacher.data, batch, nt, dt, &kt);
    const double inv_s = mu_s > 0 ? 1.0 / mu_s : 0, inv_t = mu_t > 0 ? 1.0 / mu_t : 0;
    const double inv_pairs = 1.0 / ((double)batch * (double)batch);

    /* loss, u_ij = huber'(r_ij) / B^2 into gd, and S = sum u_ij d_ij */
    double total = 0, weighted = 0;
    for (size_t i = 0; i < batch; i++)
        for (size_t j = 0; j < batch; j++) {
            size_t ij = i * batch + j;
            double r = ds[ij] * inv_s - dt[ij] * inv_t;
            total += huber(r);
            gd[ij] = huber_grad(r) * inv_pairs;
            weighted += gd[ij] * ds[ij];
        }
    *loss = total * inv_pairs;

    float *g = a.grad.data;
    memset(g, 0, a.student.count * sizeof(float));
    if (ks == 0) return LATHE_OK;  /* every student distance is 0: the loss is flat here */
    /* G_ij = u_ij / mu - [d_ij > 0] S / (K mu^2); grad x_k = 2 sum_l G_kl (x_k - x_l) / d_kl */
    const double through_mean = weighted / ((double)ks * mu_s * mu_s);
    const float *x = a.student.data;
    for (size_t k = 0; k < batch; k++) {
        float *gk = g + k * ns;
        const float *xk = x + k * ns;
        for (size_t l = 0; l < batch; l++) {
            double d = ds[k * batch + l];
            if (l == k || !(d > 0)) continue;
            double coefficient = 2.0 * (gd[k * batch + l] * inv_s - through_mean) / d;
            const float *xl = x + l * ns;
            for (size_t e = 0; e < ns; e++) gk[e] = (float)((double)gk[e] + coefficient * ((double)xk[e] - (double)xl[e]));
        }
    }
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* distill/rkd-angle                                                                           */

/**
 * Unit difference vectors from vertex `apex`: n_b = (x_b - x_apex) / max(||.||, eps) for every
 * b (n_apex = 0), into n [B, len]; their norms into norms[B].
 */
static void unit_differences(const float *x, size_t batch, size_t len, size_t apex, double *n, double *norms) {
    const float *xa = x + apex * len;
    for (size_t b = 0; b < batch; b++) {
        const float *xb = x + b * len;
        double *nb = n + b * len;
        for (size_t e = 0; e < len; e++) nb[e] = (double)xb[e] - (double)xa[e];
        norms[b] = normalize(nb, nb, len);
    }
}

/**
 * RKD angle-wise loss. Rows flattened; for every triplet (i, j, k) with vertex j,
 * cos_ijk = <n(x_i - x_j), n(x_k - x_j)>, n(v) = v / max(||v||, 1e-12) (0 for v = 0).
 * loss = (1/B^3) sum_{i,j,k} huber(cos^s_ijk - cos^t_ijk) over all B^3 triplets, as the
 * authors' code (degenerate triplets contribute 0). The gradient through an exactly zero
 * difference vector x_i = x_j (i != j) is taken as 0.
 */
static int32_t rkd_angle(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                         double *loss, DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    const size_t batch = a.student.batch, ls = a.student.per_sample, lt = a.teacher.per_sample;
    if (batch > SIZE_MAX / sizeof(double) / batch / 2 || ls > SIZE_MAX / sizeof(double) / batch / 2 ||
        lt > SIZE_MAX / sizeof(double) / batch)
        return fail(call, LATHE_UNSUPPORTED, "batch %zu is too large", batch);
    double *u = scratch_doubles(call, batch * batch, &status);
    double *ns = u ? scratch_doubles(call, 2 * batch * ls, &status) : NULL;
    double *nt = ns ? scratch_doubles(call, batch * lt, &status) : NULL;
    double *norms = nt ? scratch_doubles(call, 2 * batch, &status) : NULL;
    if (norms == NULL) return status;
    double *m = ns + batch * ls, *norms_t = norms + batch;

    const double inv_triplets = 1.0 / ((double)batch * (double)batch * (double)batch);
    float *g = a.grad.data;
    memset(g, 0, a.student.count * sizeof(float));
    double total = 0;
    for (size_t apex = 0; apex < batch; apex++) {
        unit_differences(a.student.data, batch, ls, apex, ns, norms);
        unit_differences(a.teacher.data, batch, lt, apex, nt, norms_t);
        /* cosines of the symmetric Gram matrices; u = huber'(r) / B^3 (symmetric) */
        for (size_t i = 0; i < batch; i++)
            for (size_t k = i; k < batch; k++) {
                double r = dot_d(ns + i * ls, ns + k * ls, ls) - dot_d(nt + i * lt, nt + k * lt, lt);
                total += (i == k ? 1.0 : 2.0) * huber(r);
                u[i * batch + k] = u[k * batch + i] = huber_grad(r) * inv_triplets;
            }
        /* d loss / d n_i = m_i = 2 sum_k u_ik n_k */
        for (size_t i = 0; i < batch; i++) {
            double *mi = m + i * ls;
            for (size_t e = 0; e < ls; e++) mi[e] = 0;
            for (size_t k = 0; k < batch; k++) {
                double w = 2.0 * u[i * batch + k];
                if (w == 0) continue;
                const double *nk = ns + k * ls;
                for (size_t e = 0; e < ls; e++) mi[e] += w * nk[e];
            }
        }
        /* through n = v / ||v|| to v_i = x_i - x_apex */
        float *ga = g + apex * ls;
        for (size_t i = 0; i < batch; i++) {
            if (i == apex || !(norms[i] >= NORM_EPS)) continue;
            const double *ni = ns + i * ls, *mi = m + i * ls;
            const double along = dot_d(ni, mi, ls), inv = 1.0 / norms[i];
            float *gi = g + i * ls;
            for (size_t e = 0; e < ls; e++) {
                double dv = (mi[e] - ni[e] * along) * inv;
                gi[e] = (float)((double)gi[e] + dv);
                ga[e] = (float)((double)ga[e] - dv);
            }
        }
    }
    *loss = total * inv_triplets;
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* distill/sp                                                                                  */

/** G = X X^T of the B rows (length n) of x, row-normalised into nrm; row norms into norms. */
static void similarity(const float *x, size_t batch, size_t n, double *gram, double *nrm, double *norms) {
    for (size_t i = 0; i < batch; i++)
        for (size_t j = i; j < batch; j++) gram[i * batch + j] = gram[j * batch + i] = dot_f(x + i * n, x + j * n, n);
    for (size_t i = 0; i < batch; i++) norms[i] = normalize(gram + i * batch, nrm + i * batch, batch);
}

/**
 * Similarity-preserving loss. Rows flattened to F [B, n]; G = F F^T, each row divided by
 * max(its L2 norm, 1e-12); loss = ||G~_s - G~_t||_F^2 / B^2. The gradient through the row of
 * an all-zero sample (whose Gram row is 0) is taken as 0.
 */
static int32_t sp(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, double *loss,
                  DLTensor *student_grad) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a);
    if (status != LATHE_OK) return status;
    const size_t batch = a.student.batch, ls = a.student.per_sample, lt = a.teacher.per_sample;
    if (batch > SIZE_MAX / sizeof(double) / batch / 4) return fail(call, LATHE_UNSUPPORTED, "batch %zu is too large", batch);
    double *gs = scratch_doubles(call, 4 * batch * batch + 2 * batch, &status);
    if (gs == NULL) return status;
    double *ns = gs + batch * batch, *gt = ns + batch * batch, *nt = gt + batch * batch;
    double *norms_s = nt + batch * batch, *norms_t = norms_s + batch;

    similarity(a.teacher.data, batch, lt, gt, nt, norms_t);
    similarity(a.student.data, batch, ls, gs, ns, norms_s);
    const double inv_pairs = 1.0 / ((double)batch * (double)batch);
    double total = 0;
    /* dN = 2 (N_s - N_t) / B^2, stored over gt (no longer needed) */
    double *h = gt;
    for (size_t i = 0; i < batch * batch; i++) {
        double d = ns[i] - nt[i];
        total += d * d;
        h[i] = 2.0 * d * inv_pairs;
    }
    *loss = total * inv_pairs;
    /* through the row normalisation: H_i = (dN_i - N_i (N_i . dN_i)) / ||G_i|| */
    for (size_t i = 0; i < batch; i++) {
        double *hi = h + i * batch;
        const double *ni = ns + i * batch;
        if (!(norms_s[i] >= NORM_EPS)) {
            for (size_t j = 0; j < batch; j++) hi[j] = 0;
            continue;
        }
        const double along = dot_d(ni, hi, batch), inv = 1.0 / norms_s[i];
        for (size_t j = 0; j < batch; j++) hi[j] = (hi[j] - ni[j] * along) * inv;
    }
    /* through G = F F^T: dF_k = sum_j (H_kj + H_jk) F_j */
    const float *x = a.student.data;
    float *g = a.grad.data;
    double *row = gs;  /* reuse: one row of doubles for accumulation */
    if (ls > batch * batch) {
        row = scratch_doubles(call, ls, &status);
        if (row == NULL) return status;
    }
    for (size_t k = 0; k < batch; k++) {
        for (size_t e = 0; e < ls; e++) row[e] = 0;
        for (size_t j = 0; j < batch; j++) {
            double w = h[k * batch + j] + h[j * batch + k];
            if (w == 0) continue;
            const float *xj = x + j * ls;
            for (size_t e = 0; e < ls; e++) row[e] += w * (double)xj[e];
        }
        float *gk = g + k * ls;
        for (size_t e = 0; e < ls; e++) gk[e] = (float)row[e];
    }
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

#define FLAGS (LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC)

static const lathe_param attention_params[] = {
    {LATHE_HEAD(lathe_param), "p", LATHE_PARAM_F32,
     "exponent of the attention map sum_c |f_c|^p (the paper's p; 2 is its default)", 2.0, 1.0, 4.0, NULL, 0},
};

/** Appended to every method's doc: the labels policy. */
#define LABELS " Labels are ignored (checked as int64 [B], never read): the host adds the label term."

static const lathe_method methods[] = {
    {LATHE_HEAD(lathe_method), "hint", "FitNets hint (feature mean squared error)",
     "Feature maps of equal shape [B, ...] (the host puts a learnable 1x1-conv or linear adapter on the student when "
     "shapes differ: FitNets' regressor). loss = (1/N) sum (s - t)^2 over all N = B * (elements per sample), torch's "
     "F.mse_loss; gradient 2 (s - t) / N. FitNets' 1/2 ||.||^2 differs by a constant factor: use the term weight." LABELS,
     "Romero et al., FitNets: Hints for Thin Deep Nets, ICLR 2015", LATHE_KIND_LOSS, FLAGS, LATHE_GRANULARITY_NONE,
     LATHE_LOSS_FEATURE, NULL, 0, (lathe_function)hint},
    {LATHE_HEAD(lathe_method), "attention", "Attention transfer (activation-based)",
     "Per sample, attention map Q_j = sum_c |f_cj|^p over spatial positions j of [B, C, H, W] features ([B, D] is read "
     "as one channel of D positions); channel counts may differ (category relation, no adapter). When spatial extents "
     "differ, both maps are adaptively average-pooled to the smaller extent on each axis. a = Q / max(||Q||_2, 1e-12); "
     "loss = (1/B) sum_b ||a_s - a_t||_2^2. The authors' code averages (a_s - a_t)^2 over B*H*W with beta = 1000: that is "
     "this loss times 1000/(H*W). Gradient: analytic, through the normalisation, pooling and |f|^p." LABELS,
     "Zagoruyko & Komodakis, Paying More Attention to Attention, ICLR 2017", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, attention_params, 1, (lathe_function)attention},
    {LATHE_HEAD(lathe_method), "rkd-distance", "Relational KD, distance-wise",
     "Samples flattened to vectors, trailing sizes may differ. d_ij = ||x_i - x_j||_2, normalised by mu = the mean of "
     "the positive d_ij over ordered pairs (e = 0 if all are 0). loss = (1/B^2) sum_{i,j} huber(d^s_ij/mu_s - "
     "d^t_ij/mu_t), Huber with delta 1 (smooth L1). Paper weight: 25. Batches of one give 0." LABELS,
     "Park, Kim, Lu & Cho, Relational Knowledge Distillation, CVPR 2019", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, NULL, 0, (lathe_function)rkd_distance},
    {LATHE_HEAD(lathe_method), "rkd-angle", "Relational KD, angle-wise",
     "Samples flattened to vectors, trailing sizes may differ. For every triplet (i, j, k), cos_ijk = <n(x_i - x_j), "
     "n(x_k - x_j)> with n(v) = v / max(||v||_2, 1e-12). loss = (1/B^3) sum_{i,j,k} huber(cos^s_ijk - cos^t_ijk) over "
     "all B^3 triplets (degenerate ones give 0), Huber with delta 1. Paper weight: 50. Cost O(B^3 D)." LABELS,
     "Park, Kim, Lu & Cho, Relational Knowledge Distillation, CVPR 2019", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, NULL, 0, (lathe_function)rkd_angle},
    {LATHE_HEAD(lathe_method), "sp", "Similarity-preserving KD",
     "Samples flattened to F [B, D], trailing sizes may differ. G = F F^T with each row divided by max(its L2 norm, "
     "1e-12); loss = ||G_s - G_t||_F^2 / B^2. Paper weight (gamma): 3000." LABELS,
     "Tung & Mori, Similarity-Preserving Knowledge Distillation, ICCV 2019", LATHE_KIND_LOSS, FLAGS,
     LATHE_GRANULARITY_NONE, LATHE_LOSS_RELATION, NULL, 0, (lathe_function)sp},
};

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    if (registrar == NULL || registrar->register_method == NULL) return LATHE_INVALID_ARGUMENT;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int32_t status = registrar->register_method(registrar, &methods[i]);
        if (status != LATHE_OK) {
            if (HOST_HAS(host, log)) {
                char message[128];
                snprintf(message, sizeof message, "distill: registering distill/%s failed", methods[i].id);
                host->log(host, 3, message);
            }
            return status;
        }
    }
    return LATHE_OK;
}

static const lathe_plugin plugin = {
    LATHE_HEAD(lathe_plugin), "distill", "1.0.0",
    "Feature and relation distillation losses: FitNets hint, attention transfer, RKD distance and angle, similarity-preserving",
    plugin_init, NULL,
};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
