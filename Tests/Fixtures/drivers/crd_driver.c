/* Drives distill/crd: the initialiser, and the gradients w.r.t. the student features and the
 * four learnables against central finite differences, without sample indices (in-batch form)
 * and with them (memory banks in the host's state, restored before every evaluation so each sees
 * the same banks, normaliser and negatives). */
#include "harness.h"

typedef int32_t (*crd_fn)(lathe_call *, const DLTensor *, const DLTensor *, const DLTensor *, double *, DLTensor *, int32_t,
                          int32_t, float, float, int32_t);
typedef int32_t (*crd_init_fn)(lathe_call *, const DLTensor *, const DLTensor *, int32_t, int32_t, float, float, int32_t);

enum { B = 3, DS = 4, DT = 5, E = 16, NK = 4, N = 10 };
static const float TAU = 0.5f, MOMENTUM = 0.5f;

static float fs[B * DS], ft[B * DT], ws[E * DS], bs[E], wt[E * DT], bt[E];
static float gfs[B * DS], gws[E * DS], gbs[E], gwt[E * DT], gbt[E];

/** One call with the given indices (NULL: in-batch); gradients into the g* arrays. */
static int32_t run(const lathe_method *m, const int64_t *index, double *loss) {
    F32(s, fs, B, 2, 2);
    F32(t, ft, B, DT);
    F32(g, gfs, B, 2, 2);
    int64_t labels[B] = {0, 1, 0};
    I64(y, labels, B);
    F32(l0, ws, E, DS);
    F32(l1, bs, E);
    F32(l2, wt, E, DT);
    F32(l3, bt, E);
    F32(o0, gws, E, DS);
    F32(o1, gbs, E);
    F32(o2, gwt, E, DT);
    F32(o3, gbt, E);
    const DLTensor *values[] = {&l0, &l1, &l2, &l3};
    DLTensor *outputs[] = {&o0, &o1, &o2, &o3};
    lathe_call c = make_call(LATHE_ROLE_FEATURE, -1);
    c.learnable_count = 4;
    c.learnables = values;
    c.learnable_outputs = outputs;
    c.sample_indices = index;
    c.dataset_size = index ? N : 0;
    int32_t status = ((crd_fn)m->function)(&c, &s, &t, &y, loss, &g, E, NK, TAU, MOMENTUM, 7);
    end_call();
    return status;
}

static float grid(float v) { return roundf(v * 1024.0f) / 1024.0f; }

/** Every element of `x` (n of them) against central differences of the loss; `snapshot` (when
 *  non-NULL) is copied into the state before every call. */
static void check_gradient(const lathe_method *m, const int64_t *index, float *x, const float *analytic, int n, const char *what,
                           const void *snapshot) {
    const float h = 1.0f / 256;
    char label[96];
    for (int i = 0; i < n; i++) {
        float keep = x[i];
        double plus, minus;
        x[i] = keep + h;
        if (snapshot) memcpy(state_buffer, snapshot, state_size);
        run(m, index, &plus);
        x[i] = keep - h;
        if (snapshot) memcpy(state_buffer, snapshot, state_size);
        run(m, index, &minus);
        x[i] = keep;
        snprintf(label, sizeof label, "%s[%d] vs central difference", what, i);
        expect_near(analytic[i], (plus - minus) / (2.0 * h), 2e-4, label);
    }
}

/** Runs once (from the snapshot), keeps the analytic gradients, then checks each against differences. */
static void check_all(const lathe_method *m, const int64_t *index, const void *snapshot, const char *path) {
    double loss;
    if (snapshot) memcpy(state_buffer, snapshot, state_size);
    char label[96];
    snprintf(label, sizeof label, "crd %s succeeds", path);
    expect(run(m, index, &loss) == LATHE_OK && isfinite(loss), label);
    float a_fs[B * DS], a_ws[E * DS], a_bs[E], a_wt[E * DT], a_bt[E];
    memcpy(a_fs, gfs, sizeof a_fs);
    memcpy(a_ws, gws, sizeof a_ws);
    memcpy(a_bs, gbs, sizeof a_bs);
    memcpy(a_wt, gwt, sizeof a_wt);
    memcpy(a_bt, gbt, sizeof a_bt);
    snprintf(label, sizeof label, "crd %s d/student", path);
    check_gradient(m, index, fs, a_fs, B * DS, label, snapshot);
    snprintf(label, sizeof label, "crd %s d/student_head", path);
    check_gradient(m, index, ws, a_ws, E * DS, label, snapshot);
    snprintf(label, sizeof label, "crd %s d/student_bias", path);
    check_gradient(m, index, bs, a_bs, E, label, snapshot);
    snprintf(label, sizeof label, "crd %s d/teacher_head", path);
    check_gradient(m, index, wt, a_wt, E * DT, label, snapshot);
    snprintf(label, sizeof label, "crd %s d/teacher_bias", path);
    check_gradient(m, index, bt, a_bt, E, label, snapshot);
}

int main(void) {
    const lathe_method *m = method("crd");
    expect(m->learnable_count == 4 && m->learnables[0].shape_rule == LATHE_SHAPE_STUDENT_PROJECTION &&
               m->learnables[2].shape_rule == LATHE_SHAPE_TEACHER_PROJECTION && strcmp(m->learnables[0].size_param, "feat_dim") == 0,
           "crd declares student/teacher projections sized by feat_dim and two biases");
    uint64_t r = 99;
    for (int i = 0; i < B * DS; i++) r = r * 6364136223846793005ull + 1, fs[i] = grid((float)((int)(r >> 40) % 2000 - 1000) / 500.0f);
    for (int i = 0; i < B * DT; i++) r = r * 6364136223846793005ull + 1, ft[i] = grid((float)((int)(r >> 40) % 2000 - 1000) / 500.0f);

    /* Initialiser: nn.Linear's uniform bound 1/sqrt(fan in), deterministic in the seed. */
    F32(s, fs, B, 2, 2);
    F32(t, ft, B, DT);
    F32(o0, ws, E, DS);
    F32(o1, bs, E);
    F32(o2, wt, E, DT);
    F32(o3, bt, E);
    DLTensor *outputs[] = {&o0, &o1, &o2, &o3};
    lathe_call c = make_call(LATHE_ROLE_FEATURE, -1);
    c.learnable_count = 4;
    c.learnable_outputs = outputs;
    expect(((crd_init_fn)m->init_learnables)(&c, &s, &t, E, NK, TAU, MOMENTUM, 7) == LATHE_OK, "crd init succeeds");
    int in_bound = 1;
    for (int i = 0; i < E * DS; i++) in_bound &= fabsf(ws[i]) <= 0.5f;
    for (int i = 0; i < E * DT; i++) in_bound &= fabsf(wt[i]) <= 1 / sqrtf(5.0f);
    expect(in_bound && ws[0] != ws[1], "crd init within +-1/sqrt(fan in)");
    float first = ws[0];
    ((crd_init_fn)m->init_learnables)(&c, &s, &t, E, NK, TAU, MOMENTUM, 7);
    expect(ws[0] == first, "crd init is deterministic in the seed");
    ((crd_init_fn)m->init_learnables)(&c, &s, &t, E, NK, TAU, MOMENTUM, 8);
    expect(ws[0] != first, "crd init follows the seed");
    end_call();
    for (int i = 0; i < E * DS; i++) ws[i] = grid(ws[i]);
    for (int i = 0; i < E * DT; i++) wt[i] = grid(wt[i]);
    for (int i = 0; i < E; i++) bs[i] = grid(bs[i]), bt[i] = grid(bt[i]);

    /* Without indices: in-batch form, no state requested. */
    check_all(m, NULL, NULL, "in-batch");
    expect(state_buffer == NULL, "crd without sample indices requests no state");

    /* With indices: the first call initialises the banks, sets Z and updates the positives' rows. */
    int64_t index[B] = {2, 7, 9};
    double loss;
    expect(run(m, index, &loss) == LATHE_OK && isfinite(loss), "crd first training call succeeds");
    expect(state_size == 64 + 2 * (size_t)N * E * sizeof(float), "crd state: header + two banks of dataset_size x feat_dim");
    const float *bank = (const float *)((const char *)state_buffer + 64);
    double norm2 = 0;
    for (int k = 0; k < E; k++) norm2 += (double)bank[7 * E + k] * bank[7 * E + k];
    expect_near(norm2, 1.0, 1e-6, "crd updated bank row is unit length");
    void *snapshot = malloc(state_size);
    memcpy(snapshot, state_buffer, state_size);
    double again;
    run(m, index, &loss);
    memcpy(state_buffer, snapshot, state_size);
    run(m, index, &again);
    expect(loss == again, "crd with the same state gives the same loss");
    check_all(m, index, snapshot, "banks");

    /* Refusals: an index outside the dataset; a host without state. */
    int64_t outside[B] = {2, 10, 1};
    memcpy(state_buffer, snapshot, state_size);
    expect(run(m, outside, &loss) == LATHE_INVALID_ARGUMENT && strstr(last_error, "10") != NULL, "crd refuses index 10 of 10");
    state_enabled = 0;
    free(state_buffer);
    state_buffer = NULL;
    state_size = 0;
    expect(run(m, index, &loss) == LATHE_NO_MEMORY && strstr(last_error, "state") != NULL, "crd without a state buffer fails clearly");
    free(snapshot);
    return finish();
}
