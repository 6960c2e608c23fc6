/* distill_internal.h — helpers shared by the distill plugin's loss files (private). */
#ifndef DISTILL_INTERNAL_H
#define DISTILL_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

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
/* Host services (LATHE_HOST_HAS: read only within the size the host declared)                 */

/** `count` doubles of scratch memory, or NULL after reporting LATHE_NO_MEMORY. */
static inline double *scratch_doubles(lathe_call *call, size_t count, int32_t *status) {
    if (count == 0) count = 1;
    if (count > SIZE_MAX / sizeof(double)) {
        *status = lathe_failf(call, LATHE_NO_MEMORY, "scratch request of %zu doubles overflows", count);
        return NULL;
    }
    void *memory = lathe_scratch(call, count * sizeof(double));
    if (memory == NULL) {
        *status = lathe_failf(call, LATHE_NO_MEMORY, "cannot get %zu bytes of scratch memory from the host", count * sizeof(double));
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
static inline int32_t check_tensor(lathe_call *call, const DLTensor *tensor, const char *name, uint8_t code, uint8_t bits,
                            int32_t min_rank, view *out) {
    if (tensor == NULL) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s is NULL", name);
    if (tensor->device.device_type != kDLCPU) return lathe_failf(call, LATHE_UNSUPPORTED, "%s must be a CPU tensor", name);
    if (tensor->dtype.code != code || tensor->dtype.bits != bits || tensor->dtype.lanes != 1)
        return lathe_failf(call, LATHE_UNSUPPORTED, "%s must be %s", name, code == kDLFloat ? "float32" : "int64");
    if (tensor->ndim < min_rank || tensor->ndim > MAX_RANK)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s must have %d to %d dimensions, got %d", name, (int)min_rank,
                    (int)MAX_RANK, (int)tensor->ndim);
    if (tensor->shape == NULL) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s has no shape", name);
    out->rank = tensor->ndim;
    size_t count = 1;
    for (int32_t d = 0; d < tensor->ndim; d++) {
        if (tensor->shape[d] < 0) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s has a negative extent", name);
        size_t extent = (size_t)tensor->shape[d];
        if (extent != 0 && count > SIZE_MAX / sizeof(double) / extent)
            return lathe_failf(call, LATHE_UNSUPPORTED, "%s is too large", name);
        count *= extent;
        out->shape[d] = extent;
    }
    if (tensor->strides != NULL) {
        int64_t expected = 1;
        for (int32_t d = tensor->ndim - 1; d >= 0; d--) {
            if (tensor->shape[d] > 1 && tensor->strides[d] != expected)
                return lathe_failf(call, LATHE_UNSUPPORTED, "%s must be compact row-major", name);
            expected *= tensor->shape[d];
        }
    }
    if (count > 0 && tensor->data == NULL) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s has no data", name);
    out->data = count > 0 ? (float *)(void *)((char *)tensor->data + tensor->byte_offset) : NULL;
    out->batch = out->shape[0];
    out->count = count;
    out->per_sample = out->batch > 0 ? count / out->batch : 0;
    return LATHE_OK;
}

static inline int same_shape(const view *a, const view *b) {
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

static inline int32_t check_finite(lathe_call *call, const view *v, const char *name) {
    for (size_t i = 0; i < v->count; i++)
        if (!isfinite(v->data[i])) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "%s contains NaN or infinity (element %zu)", name, i);
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
static inline int32_t prologue(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels,
                        const double *loss, DLTensor *student_grad, int32_t min_rank, loss_args *a) {
    int32_t status;
    view y;
    char s1[96], s2[96];
    if ((status = check_tensor(call, student, "student", kDLFloat, 32, min_rank, &a->student)) != LATHE_OK) return status;
    if ((status = check_tensor(call, teacher, "teacher", kDLFloat, 32, min_rank, &a->teacher)) != LATHE_OK) return status;
    if ((status = check_tensor(call, labels, "labels", kDLInt, 64, 1, &y)) != LATHE_OK) return status;
    if ((status = check_tensor(call, student_grad, "student_grad", kDLFloat, 32, min_rank, &a->grad)) != LATHE_OK) return status;
    if (loss == NULL) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "loss is NULL");
    if (a->student.batch < 1 || a->student.per_sample < 1)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "student must be [B, ...] with B >= 1 and no empty dimension, got %s",
                    shape_text(&a->student, s1, sizeof s1));
    if (a->teacher.batch != a->student.batch || a->teacher.per_sample < 1)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "teacher %s must share the student's batch size %zu and not be empty",
                    shape_text(&a->teacher, s1, sizeof s1), a->student.batch);
    if (y.rank != 1 || y.shape[0] != a->student.batch)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "labels must be [%zu], got %s", a->student.batch, shape_text(&y, s1, sizeof s1));
    if (!same_shape(&a->grad, &a->student))
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "student_grad %s differs from student %s", shape_text(&a->grad, s1, sizeof s1),
                    shape_text(&a->student, s2, sizeof s2));
    if ((status = check_finite(call, &a->student, "student")) != LATHE_OK) return status;
    if ((status = check_finite(call, &a->teacher, "teacher")) != LATHE_OK) return status;
    return LATHE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Small numeric helpers                                                                       */

/** Dot product of two float rows in double, four accumulators (fixed order: deterministic). */
static inline double dot_f(const float *a, const float *b, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) acc[k] += (double)a[i + k] * (double)b[i + k];
    for (; i < n; i++) acc[0] += (double)a[i] * (double)b[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/** Same for double rows. */
static inline double dot_d(const double *a, const double *b, size_t n) {
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) acc[k] += a[i + k] * b[i + k];
    for (; i < n; i++) acc[0] += a[i] * b[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/** Squared Euclidean distance between two float rows, in double. */
static inline double distance2_f(const float *a, const float *b, size_t n) {
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
static inline double huber(double r) {
    double a = fabs(r);
    return a < 1.0 ? 0.5 * r * r : a - 0.5;
}

/** Its derivative: r clamped to [-1, 1]. */
static inline double huber_grad(double r) { return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r); }


/** The L2 norm of `n` values and the vector divided by max(norm, NORM_EPS) into `out`. */
static inline double normalize(const double *x, double *out, size_t n) {
    double norm = sqrt(dot_d(x, x, n));
    double inv = 1.0 / (norm > NORM_EPS ? norm : NORM_EPS);
    for (size_t i = 0; i < n; i++) out[i] = x[i] * inv;
    return norm;
}

/* The losses (one file each), registered by distill.c. Common leading arguments: */
#define DISTILL_LOSS_ARGS lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, \
                          double *loss, DLTensor *student_grad
LATHE_SUPPORT_HIDDEN int32_t hint(DISTILL_LOSS_ARGS);
LATHE_SUPPORT_HIDDEN int32_t attention(DISTILL_LOSS_ARGS, float p_value);
LATHE_SUPPORT_HIDDEN int32_t cwd(DISTILL_LOSS_ARGS, float temperature);
LATHE_SUPPORT_HIDDEN int32_t attention_map(DISTILL_LOSS_ARGS, int32_t per_head);
LATHE_SUPPORT_HIDDEN int32_t rkd_distance(DISTILL_LOSS_ARGS);
LATHE_SUPPORT_HIDDEN int32_t rkd_angle(DISTILL_LOSS_ARGS);
LATHE_SUPPORT_HIDDEN int32_t sp(DISTILL_LOSS_ARGS);
LATHE_SUPPORT_HIDDEN int32_t dkd(DISTILL_LOSS_ARGS, float alpha, float beta, float temperature, int32_t warmup);
LATHE_SUPPORT_HIDDEN int32_t crd(DISTILL_LOSS_ARGS, int32_t feat_dim, int32_t nce_k, float temperature, float momentum,
                                 int32_t seed);
LATHE_SUPPORT_HIDDEN int32_t crd_init(lathe_call *call, const DLTensor *student, const DLTensor *teacher, int32_t feat_dim,
                                      int32_t nce_k, float temperature, float momentum, int32_t seed);

#endif
