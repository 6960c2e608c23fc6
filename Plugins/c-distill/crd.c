/* distill: contrastive representation distillation, CRD (see distill.c for the formulas and
 * reference). Learnables: the two linear embedding heads; state: the two memory banks. */
#include "distill_internal.h"
#if LATHE_ABI_MINOR >= 1 /* an ABI 1.1 method: see distill.c */

/** Learnables, in declaration order. */
enum { L_STUDENT_HEAD = 0, L_STUDENT_BIAS = 1, L_TEACHER_HEAD = 2, L_TEACHER_BIAS = 3, L_COUNT = 4 };

/** The authors' epsilon in the NCE terms. */
#define NCE_EPS 1e-7

/** "CRD1" + layout version: marks an initialised state buffer. */
#define STATE_MAGIC 0x4352443100000001ull

/** The state buffer's header; the student bank and then the teacher bank follow it, each
 *  dataset_size x feat_dim floats (unit rows). */
typedef struct crd_state {
    uint64_t magic;          /**< 0 until the first training call initialises the banks */
    int64_t dataset_size;
    int64_t feat_dim;
    uint64_t rng;            /**< the negative sampler's splitmix64 state */
    double z_student;        /**< the NCE normalisers Z, fixed from the first training batch */
    double z_teacher;
    uint8_t reserved[16];
} crd_state;

_Static_assert(sizeof(crd_state) == 64, "the banks start 64-byte aligned");

/** splitmix64: the next value of the stream at *state. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/** Uniform in [0, 1) with 53 bits. */
static double next_unit(uint64_t *state) { return (double)(next_u64(state) >> 11) * 0x1.0p-53; }

/** Uniform index in [0, n) (multiply-shift; bias below 2^-40 for n < 2^24). */
static uint64_t next_index(uint64_t *state, uint64_t n) {
    return (uint64_t)(((unsigned __int128)next_u64(state) * n) >> 64);
}

/** Shared arguments of the loss and its initialiser. */
typedef struct crd_params {
    int32_t feat_dim, nce_k;
    float temperature, momentum;
    int32_t seed;
} crd_params;

static int32_t check_params(lathe_call *call, const crd_params *p) {
    if (p->feat_dim < 16 || p->nce_k < 1 || !(p->temperature > 0) || !(p->momentum >= 0 && p->momentum <= 1) || p->seed < 0)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                           "crd: feat_dim %d must be >= 16 and nce_k %d >= 1, temperature %g > 0, momentum %g in [0, 1], seed %d >= 0",
                           (int)p->feat_dim, (int)p->nce_k, (double)p->temperature, (double)p->momentum, (int)p->seed);
    return LATHE_OK;
}

/** The four learnables (values when `values`, else the outputs) with their expected sizes. */
static int32_t heads(lathe_call *call, size_t e, size_t ds, size_t dt, bool values, float *out[L_COUNT]) {
    static const char *const names[L_COUNT] = {"student_head", "student_bias", "teacher_head", "teacher_bias"};
    const size_t sizes[L_COUNT] = {e * ds, e, e * dt, e};
    for (uint32_t i = 0; i < L_COUNT; i++) {
        const float *in = NULL;
        int32_t status = values ? lathe_learnable_data(call, i, names[i], sizes[i], &in, NULL)
                                : lathe_learnable_data(call, i, names[i], sizes[i], NULL, &out[i]);
        if (status != LATHE_OK) return status;
        if (values) {
            for (size_t j = 0; j < sizes[i]; j++)
                if (!isfinite(in[j])) return lathe_failf(call, LATHE_INVALID_ARGUMENT, "crd: learnable %s holds NaN or infinity", names[i]);
            out[i] = (float *)(uintptr_t)in;
        }
    }
    return LATHE_OK;
}

/** Initialiser: each head and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (torch's nn.Linear
 *  default), from `seed` (student and teacher from separate streams). */
int32_t crd_init(lathe_call *call, const DLTensor *student, const DLTensor *teacher, int32_t feat_dim, int32_t nce_k,
                 float temperature, float momentum, int32_t seed) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    crd_params p = {feat_dim, nce_k, temperature, momentum, seed};
    int32_t status;
    if ((status = check_params(call, &p)) != LATHE_OK) return status;
    view s, t;
    if ((status = check_tensor(call, student, "student", kDLFloat, 32, 1, &s)) != LATHE_OK) return status;
    if ((status = check_tensor(call, teacher, "teacher", kDLFloat, 32, 1, &t)) != LATHE_OK) return status;
    if (s.batch < 1 || s.per_sample < 1 || t.per_sample < 1)
        return lathe_fail(call, LATHE_INVALID_ARGUMENT, "crd: student and teacher must be [B, ...] with B >= 1, not empty");
    if ((status = lathe_require_learnables(call, "crd", L_COUNT, false, true)) != LATHE_OK) return status;
    float *out[L_COUNT];
    const size_t e = (size_t)feat_dim;
    if ((status = heads(call, e, s.per_sample, t.per_sample, false, out)) != LATHE_OK) return status;
    for (int side = 0; side < 2; side++) {
        uint64_t rng = ((uint64_t)(uint32_t)seed << 1) | (uint64_t)side;
        const size_t fan_in = side == 0 ? s.per_sample : t.per_sample;
        const double bound = 1.0 / sqrt((double)fan_in);
        float *w = out[side == 0 ? L_STUDENT_HEAD : L_TEACHER_HEAD], *bias = out[side == 0 ? L_STUDENT_BIAS : L_TEACHER_BIAS];
        for (size_t i = 0; i < e * fan_in; i++) w[i] = (float)((2 * next_unit(&rng) - 1) * bound);
        for (size_t i = 0; i < e; i++) bias[i] = (float)((2 * next_unit(&rng) - 1) * bound);
    }
    return LATHE_OK;
}

/** v = normalize(W f + b) for the B rows of f [B, d]; e [B, E] keeps the norms' inputs. */
static void embed(const float *f, size_t b, size_t d, const float *w, const float *bias, size_t e, double *pre, double *v,
                  double *norms) {
    for (size_t i = 0; i < b; i++) {
        for (size_t r = 0; r < e; r++) pre[i * e + r] = (double)bias[r] + dot_f(w + r * d, f + i * d, d);
        norms[i] = normalize(pre + i * e, v + i * e, e);
    }
}

/** dL/d(pre) from dL/dv through v = pre / max(|pre|, eps), in place in dv. */
static void unnormalize_grad(const double *v, double norm, double *dv, size_t e) {
    if (norm > NORM_EPS) {
        double proj = dot_d(v, dv, e);
        for (size_t r = 0; r < e; r++) dv[r] = (dv[r] - v[r] * proj) / norm;
    } else {
        for (size_t r = 0; r < e; r++) dv[r] /= NORM_EPS;
    }
}

/** Dot product of a float bank row and a double vector. */
static double dot_fd(const float *a, const double *b, size_t n) {
    double acc = 0;
    for (size_t i = 0; i < n; i++) acc += (double)a[i] * b[i];
    return acc;
}

/**
 * The bank path (training batches, sample indices given): the authors' NCE with memory banks.
 * Fills dv_s, dv_t (dL/dv of each side) and returns the loss. Updates the banks afterwards.
 */
static int32_t nce_with_banks(lathe_call *call, const crd_params *p, const int64_t *index, int64_t n, size_t b, size_t e,
                              const double *v_s, const double *v_t, double *dv_s, double *dv_t, double *loss) {
    const uint64_t rows = (uint64_t)n;
    size_t bank_bytes = 0;
    if (rows > SIZE_MAX / 2 / sizeof(float) / e ||
        (bank_bytes = (size_t)rows * e * sizeof(float)) > (LATHE_STATE_MAX_BYTES - sizeof(crd_state)) / 2)
        return lathe_failf(call, LATHE_NO_MEMORY,
                           "crd: two memory banks of %lld x %zu floats exceed the host's state limit of %zu bytes (lower feat_dim)",
                           (long long)n, e, (size_t)LATHE_STATE_MAX_BYTES);
    crd_state *st = lathe_state(call, sizeof(crd_state) + 2 * bank_bytes);
    if (st == NULL)
        return lathe_failf(call, LATHE_NO_MEMORY, "crd: the host gave no state buffer of %zu bytes for the memory banks",
                           sizeof(crd_state) + 2 * bank_bytes);
    float *bank_s = (float *)(void *)(st + 1), *bank_t = bank_s + rows * e;
    if (st->magic != STATE_MAGIC) {
        /* The authors' init: uniform rows in [-stdv, stdv], stdv = 1 / sqrt(feat_dim / 3). */
        st->magic = STATE_MAGIC;
        st->dataset_size = n;
        st->feat_dim = (int64_t)e;
        st->rng = 0xC0FFEEull ^ ((uint64_t)(uint32_t)p->seed << 32);
        st->z_student = st->z_teacher = -1;
        const double stdv = 1.0 / sqrt((double)e / 3.0);
        for (size_t i = 0; i < 2 * rows * e; i++) bank_s[i] = (float)((2 * next_unit(&st->rng) - 1) * stdv);
    } else if (st->dataset_size != n || st->feat_dim != (int64_t)e) {
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "crd: the memory banks hold %lld x %lld, the call asks for %lld x %zu",
                           (long long)st->dataset_size, (long long)st->feat_dim, (long long)n, e);
    }
    for (size_t i = 0; i < b; i++)
        if (index[i] < 0 || index[i] >= n)
            return lathe_failf(call, LATHE_INVALID_ARGUMENT, "crd: sample index %lld (batch row %zu) is not in 0..%lld",
                               (long long)index[i], i, (long long)(n - 1));
    const size_t k1 = (size_t)p->nce_k + 1;
    if (b > SIZE_MAX / sizeof(double) / 2 / k1) return lathe_fail(call, LATHE_NO_MEMORY, "crd: batch x nce_k too large");
    int32_t status = LATHE_OK;
    /* idx [B, K+1] (as doubles' storage: int64), out_s/out_t [B, K+1]: exp(<bank row, v> / T). */
    double *work = scratch_doubles(call, 3 * b * k1, &status);
    if (work == NULL) return status;
    int64_t *idx = (int64_t *)(void *)work;
    double *out_s = work + b * k1, *out_t = out_s + b * k1;
    const double T = (double)p->temperature;
    double sum_s = 0, sum_t = 0;
    for (size_t i = 0; i < b; i++) {
        idx[i * k1] = index[i];
        for (size_t k = 1; k < k1; k++) idx[i * k1 + k] = (int64_t)next_index(&st->rng, rows);
        for (size_t k = 0; k < k1; k++) {
            const size_t row = (size_t)idx[i * k1 + k];
            out_s[i * k1 + k] = exp(dot_fd(bank_t + row * e, v_s + i * e, e) / T);
            out_t[i * k1 + k] = exp(dot_fd(bank_s + row * e, v_t + i * e, e) / T);
            sum_s += out_s[i * k1 + k];
            sum_t += out_t[i * k1 + k];
        }
    }
    if (st->z_student < 0) st->z_student = sum_s / (double)(b * k1) * (double)n;
    if (st->z_teacher < 0) st->z_teacher = sum_t / (double)(b * k1) * (double)n;
    const double m_pn = (double)p->nce_k / (double)n, c = m_pn + NCE_EPS;
    double total = 0;
    for (int side = 0; side < 2; side++) {
        const double z = side == 0 ? st->z_student : st->z_teacher;
        const double *out = side == 0 ? out_s : out_t;
        const float *bank = side == 0 ? bank_t : bank_s;
        double *dv = side == 0 ? dv_s : dv_t;
        for (size_t i = 0; i < b; i++) {
            double *g = dv + i * e;
            for (size_t r = 0; r < e; r++) g[r] = 0;
            for (size_t k = 0; k < k1; k++) {
                const double x = out[i * k1 + k] / z;
                /* d(term)/dv = coef * bank row; the term's derivative by x times x / T. */
                double coef;
                if (k == 0) {
                    total -= log(x / (x + c));
                    coef = -c / (x + c) / T;
                } else {
                    total -= log(m_pn / (x + c));
                    coef = x / (x + c) / T;
                }
                const float *w = bank + (size_t)idx[i * k1 + k] * e;
                for (size_t r = 0; r < e; r++) g[r] += coef * (double)w[r];
            }
            for (size_t r = 0; r < e; r++) g[r] /= (double)b;
        }
    }
    *loss = total / (double)b;
    /* Momentum update of the positives' rows, after the loss (the authors' order). */
    const double m = (double)p->momentum;
    for (int side = 0; side < 2; side++) {
        float *bank = side == 0 ? bank_s : bank_t;
        const double *v = side == 0 ? v_s : v_t;
        for (size_t i = 0; i < b; i++) {
            float *row = bank + (size_t)index[i] * e;
            double norm2 = 0;
            for (size_t r = 0; r < e; r++) {
                double x = m * (double)row[r] + (1 - m) * v[i * e + r];
                norm2 += x * x;
            }
            const double inv = 1.0 / fmax(sqrt(norm2), NORM_EPS);
            for (size_t r = 0; r < e; r++) row[r] = (float)((m * (double)row[r] + (1 - m) * v[i * e + r]) * inv);
        }
    }
    return LATHE_OK;
}

/**
 * The in-batch path (no sample indices: checks, evaluation): no memory, nothing stored. The
 * symmetric softmax form over the batch, l_ij = <v_s,i, v_t,j> / T:
 * loss = (1/B) sum_i [-log softmax_j(l_i.)_i - log softmax_j(l_.i)_i].
 */
static int32_t softmax_in_batch(lathe_call *call, const crd_params *p, size_t b, size_t e, const double *v_s,
                                const double *v_t, double *dv_s, double *dv_t, double *loss) {
    int32_t status = LATHE_OK;
    if (b > SIZE_MAX / sizeof(double) / 2 / (b ? b : 1)) return lathe_fail(call, LATHE_NO_MEMORY, "crd: batch too large");
    double *l = scratch_doubles(call, 2 * b * b, &status);
    if (l == NULL) return status;
    double *dl = l + b * b;
    const double T = (double)p->temperature;
    for (size_t i = 0; i < b; i++)
        for (size_t j = 0; j < b; j++) l[i * b + j] = dot_d(v_s + i * e, v_t + j * e, e) / T;
    for (size_t i = 0; i < b * b; i++) dl[i] = 0;
    double total = 0;
    for (int side = 0; side < 2; side++) {
        /* side 0: rows of l (student anchors); side 1: columns (teacher anchors). */
        for (size_t i = 0; i < b; i++) {
            double mx = -INFINITY, sum = 0;
            for (size_t j = 0; j < b; j++) mx = fmax(mx, side == 0 ? l[i * b + j] : l[j * b + i]);
            for (size_t j = 0; j < b; j++) sum += exp((side == 0 ? l[i * b + j] : l[j * b + i]) - mx);
            const double lse = mx + log(sum);
            total += lse - l[i * b + i];
            for (size_t j = 0; j < b; j++) {
                const size_t at = side == 0 ? i * b + j : j * b + i;
                dl[at] += (exp(l[at] - lse) - (i == j ? 1.0 : 0.0)) / (double)b;
            }
        }
    }
    *loss = total / (double)b;
    for (size_t i = 0; i < b; i++) {
        double *gs = dv_s + i * e, *gt = dv_t + i * e;
        for (size_t r = 0; r < e; r++) gs[r] = gt[r] = 0;
        for (size_t j = 0; j < b; j++) {
            const double a = dl[i * b + j] / T, c = dl[j * b + i] / T;
            for (size_t r = 0; r < e; r++) {
                gs[r] += a * v_t[j * e + r];
                gt[r] += c * v_s[j * e + r];
            }
        }
    }
    return LATHE_OK;
}

/**
 * CRD: v_s = normalize(W_s f_s + b_s), v_t = normalize(W_t f_t + b_t) (feat_dim each); with
 * sample indices the authors' NCE against the memory banks (nce_with_banks), without them the
 * in-batch softmax form (softmax_in_batch). Gradients: the student features, both heads and biases.
 */
int32_t crd(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, double *loss,
            DLTensor *student_grad, int32_t feat_dim, int32_t nce_k, float temperature, float momentum, int32_t seed) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    crd_params p = {feat_dim, nce_k, temperature, momentum, seed};
    loss_args a;
    int32_t status;
    if ((status = check_params(call, &p)) != LATHE_OK) return status;
    if ((status = prologue(call, student, teacher, labels, loss, student_grad, 1, &a)) != LATHE_OK) return status;
    if ((status = lathe_require_learnables(call, "crd", L_COUNT, true, true)) != LATHE_OK) return status;
    const size_t b = a.student.batch, e = (size_t)feat_dim, ds = a.student.per_sample, dt = a.teacher.per_sample;
    float *w[L_COUNT], *dw[L_COUNT];
    if ((status = heads(call, e, ds, dt, true, w)) != LATHE_OK) return status;
    if ((status = heads(call, e, ds, dt, false, dw)) != LATHE_OK) return status;
    const size_t dmax = ds > dt ? ds : dt;
    if (b > SIZE_MAX / sizeof(double) / 8 / e || e > SIZE_MAX / sizeof(double) / 2 / dmax)
        return lathe_fail(call, LATHE_NO_MEMORY, "crd: tensors too large");
    /* pre, v, dv for both sides [B, E] each, norms [2B], head gradients in double [E, ds + dt + 2]. */
    double *work = scratch_doubles(call, 6 * b * e + 2 * b + e * (ds + dt + 2), &status);
    if (work == NULL) return status;
    double *pre_s = work, *pre_t = pre_s + b * e, *v_s = pre_t + b * e, *v_t = v_s + b * e, *dv_s = v_t + b * e,
           *dv_t = dv_s + b * e, *norm_s = dv_t + b * e, *norm_t = norm_s + b, *gw_s = norm_t + b, *gw_t = gw_s + e * ds,
           *gb_s = gw_t + e * dt, *gb_t = gb_s + e;
    embed(a.student.data, b, ds, w[L_STUDENT_HEAD], w[L_STUDENT_BIAS], e, pre_s, v_s, norm_s);
    embed(a.teacher.data, b, dt, w[L_TEACHER_HEAD], w[L_TEACHER_BIAS], e, pre_t, v_t, norm_t);
    int64_t n = 0;
    const int64_t *index = lathe_call_samples(call, &n);
    if (index != NULL && n < 1)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "crd: sample indices given with dataset_size %lld", (long long)n);
    status = index != NULL ? nce_with_banks(call, &p, index, n, b, e, v_s, v_t, dv_s, dv_t, loss)
                           : softmax_in_batch(call, &p, b, e, v_s, v_t, dv_s, dv_t, loss);
    if (status != LATHE_OK) return status;
    for (size_t i = 0; i < e * (ds + dt + 2); i++) gw_s[i] = 0;
    for (size_t i = 0; i < b; i++) {
        unnormalize_grad(v_s + i * e, norm_s[i], dv_s + i * e, e);
        unnormalize_grad(v_t + i * e, norm_t[i], dv_t + i * e, e);
        const float *fs = a.student.data + i * ds, *ft = a.teacher.data + i * dt;
        float *gf = a.grad.data + i * ds;
        for (size_t c = 0; c < ds; c++) {
            double acc = 0;
            for (size_t r = 0; r < e; r++) acc += (double)w[L_STUDENT_HEAD][r * ds + c] * dv_s[i * e + r];
            gf[c] = (float)acc;
        }
        for (size_t r = 0; r < e; r++) {
            const double gs = dv_s[i * e + r], gt = dv_t[i * e + r];
            gb_s[r] += gs;
            gb_t[r] += gt;
            for (size_t c = 0; c < ds; c++) gw_s[r * ds + c] += gs * (double)fs[c];
            for (size_t c = 0; c < dt; c++) gw_t[r * dt + c] += gt * (double)ft[c];
        }
    }
    for (size_t i = 0; i < e * ds; i++) dw[L_STUDENT_HEAD][i] = (float)gw_s[i];
    for (size_t i = 0; i < e * dt; i++) dw[L_TEACHER_HEAD][i] = (float)gw_t[i];
    for (size_t r = 0; r < e; r++) {
        dw[L_STUDENT_BIAS][r] = (float)gb_s[r];
        dw[L_TEACHER_BIAS][r] = (float)gb_t[r];
    }
    return LATHE_OK;
}
#endif
