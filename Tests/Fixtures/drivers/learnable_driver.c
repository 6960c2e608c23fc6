/* Drives the learnable plugin's LSQ, LSQ+ and PACT functions on small tensors and checks the
 * values and gradients against numbers worked out by hand from the papers' formulas. */
#include "harness.h"

typedef int32_t (*init2)(lathe_call *, const DLTensor *, int32_t, int32_t);
typedef int32_t (*fwd2)(lathe_call *, const DLTensor *, DLTensor *, int32_t, int32_t);
typedef int32_t (*bwd2)(lathe_call *, const DLTensor *, const DLTensor *, DLTensor *, int32_t, int32_t);
typedef int32_t (*init1)(lathe_call *, const DLTensor *, int32_t);
typedef int32_t (*fwd1)(lathe_call *, const DLTensor *, DLTensor *, int32_t);
typedef int32_t (*bwd1)(lathe_call *, const DLTensor *, const DLTensor *, DLTensor *, int32_t);
typedef int32_t (*init_pact)(lathe_call *, const DLTensor *, int32_t, int32_t, float);
typedef int32_t (*fwd_pact)(lathe_call *, const DLTensor *, DLTensor *, int32_t, int32_t, float);
typedef int32_t (*bwd_pact)(lathe_call *, const DLTensor *, const DLTensor *, DLTensor *, int32_t, int32_t, float);

enum { AUTO = 0, SIGNED = 1, UNSIGNED = 2 };

static float X[6] = {-1.0f, -0.3f, 0.05f, 0.26f, 0.9f, 2.0f};
static float DY[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};

static void expect_values(const float *actual, const double *expected, int n, double tol, const char *what) {
    char label[128];
    for (int i = 0; i < n; i++) {
        snprintf(label, sizeof label, "%s[%d]", what, i);
        expect_near(actual[i], expected[i], tol, label);
    }
}

static void lsq_per_tensor(void) {
    const lathe_method *m = method("lsq");
    expect(m->learnable_count == 1 && m->learnables[0].shape_rule == LATHE_SHAPE_SCALAR && m->backward && m->init_learnables,
           "lsq declares one scalar learnable, an initialiser and a backward");
    float y[6], dx[6], s = 0.5f, ds = -1;
    F32(x, X, 6);
    F32(out, y, 6);
    F32(gy, DY, 6);
    F32(gx, dx, 6);
    F32(step, &s, 1);
    F32(dstep, &ds, 1);
    const DLTensor *values[] = {&step};
    DLTensor *outputs[] = {&dstep};

    /* Signed 2 bits: Qn = 2, Qp = 1. x/s = [-2, -0.6, 0.1, 0.52, 1.8, 4] -> clip, round: [-2, -1, 0, 1, 1, 1]. */
    lathe_call c = make_call(LATHE_ROLE_WEIGHT, 0);
    c.learnable_count = 1;
    c.learnables = values;
    expect(((fwd2)m->function)(&c, &x, &out, 2, AUTO) == LATHE_OK, "lsq forward (weight) succeeds");
    end_call();
    expect_values(y, (double[]){-1.0, -0.5, 0, 0.5, 0.5, 0.5}, 6, 1e-7, "lsq signed forward");
    expect(last_qparams.scheme == LATHE_QSCHEME_SYMMETRIC && last_qparams.qmin == -2 && last_qparams.qmax == 1 &&
               last_qparams.count == 1 && last_scales[0] == 0.5f && last_qparams.axis == -1,
           "lsq signed qparams: symmetric [-2, 1], scale s");

    /* Backward: inside -2 < v < 1 -> dx = dy; ds terms -2*.1, -.4*.2, -.1*.3, .48*.4, 1*.5, 1*.6 = 0.982;
     * g = 1/sqrt(6 * 1). */
    c.learnable_outputs = outputs;
    expect(((bwd2)m->backward)(&c, &x, &gy, &gx, 2, AUTO) == LATHE_OK, "lsq backward succeeds");
    end_call();
    expect_values(dx, (double[]){0, 0.2, 0.3, 0.4, 0, 0}, 6, 1e-7, "lsq signed dx");
    expect_near(ds, 0.982 / sqrt(6.0), 1e-6, "lsq signed ds with g = 1/sqrt(N Qp)");

    /* Unsigned (auto for an activation), shape [2, 3]: Qn = 0, Qp = 3; N per sample = 3, g = 1/3. */
    F32(x2, X, 2, 3);
    F32(out2, y, 2, 3);
    F32(gy2, DY, 2, 3);
    F32(gx2, dx, 2, 3);
    lathe_call a = make_call(LATHE_ROLE_ACTIVATION, 1);
    a.learnable_count = 1;
    a.learnables = values;
    expect(((fwd2)m->function)(&a, &x2, &out2, 2, AUTO) == LATHE_OK, "lsq forward (activation) succeeds");
    end_call();
    expect_values(y, (double[]){0, 0, 0, 0.5, 1.0, 1.5}, 6, 1e-7, "lsq unsigned forward");
    expect(last_qparams.scheme == LATHE_QSCHEME_AFFINE && last_qparams.qmin == 0 && last_qparams.qmax == 3 && last_zero_points[0] == 0,
           "lsq unsigned qparams: affine [0, 3], zero point 0");
    a.learnable_outputs = outputs;
    expect(((bwd2)m->backward)(&a, &x2, &gy2, &gx2, 2, AUTO) == LATHE_OK, "lsq unsigned backward succeeds");
    end_call();
    /* v = [-2, -0.6, 0.1, 0.52, 1.8, 4]: below 0 twice (d = -Qn = 0), inside 0.1, 0.52, 1.8, above 4 (d = 3):
     * sum = -.03 + .192 + .1 + 1.8 = 2.062. */
    expect_values(dx, (double[]){0, 0, 0.3, 0.4, 0.5, 0}, 6, 1e-7, "lsq unsigned dx");
    expect_near(ds, 2.062 / 3.0, 1e-6, "lsq unsigned ds, N = features per sample");

    /* Initialiser: s = 2 mean|x| / sqrt(Qp) = 2 * 4.51 / 6 (signed 2 bits, Qp = 1). */
    lathe_call i = make_call(LATHE_ROLE_WEIGHT, 0);
    i.learnable_count = 1;
    i.learnable_outputs = outputs;
    expect(((init2)m->init_learnables)(&i, &x, 2, SIGNED) == LATHE_OK, "lsq init succeeds");
    end_call();
    expect_near(ds, 2 * 4.51 / 6, 1e-6, "lsq init 2 mean|x| / sqrt(Qp)");

    /* A 1.0-sized call (no learnables field) fails with a message. */
    lathe_call old = make_call(LATHE_ROLE_NONE, -1);
    old.head.size = (uint32_t)offsetof(lathe_call, layer);
    last_error[0] = 0;
    expect(((fwd2)m->function)(&old, &x, &out, 2, AUTO) == LATHE_UNSUPPORTED && strstr(last_error, "ABI 1.1") != NULL,
           "lsq on a 1.0 call fails naming ABI 1.1");
    end_call();
    /* A learnable of the wrong size fails. */
    float two[2] = {1, 1};
    F32(wrong, two, 2);
    const DLTensor *wrong_values[] = {&wrong};
    lathe_call w = make_call(LATHE_ROLE_WEIGHT, 0);
    w.learnable_count = 1;
    w.learnables = wrong_values;
    expect(((fwd2)m->function)(&w, &x, &out, 2, AUTO) == LATHE_INVALID_ARGUMENT && strstr(last_error, "step") != NULL,
           "lsq with a 2-element step fails naming it");
    end_call();
}

/** A tensor past one summation block (2048) and the eight lanes: dx exactly, ds against a plain
 *  double-precision sum of the paper's terms. */
static void lsq_large(void) {
    const lathe_method *m = method("lsq");
    enum { N = 5003 };
    static float x[N], dy[N], dx[N];
    uint64_t r = 7;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((int)(r >> 41) % 4001 - 2000) / 997.0f;
        dy[i] = (float)((int)(r >> 20) % 201 - 100) / 100.0f;
    }
    float s = 0.173f, ds;
    F32(xt, x, N);
    F32(gy, dy, N);
    F32(gx, dx, N);
    F32(step, &s, 1);
    F32(dstep, &ds, 1);
    const DLTensor *values[] = {&step};
    DLTensor *outputs[] = {&dstep};
    lathe_call c = make_call(LATHE_ROLE_WEIGHT, 0);
    c.learnable_count = 1;
    c.learnables = values;
    c.learnable_outputs = outputs;
    expect(((bwd2)m->backward)(&c, &xt, &gy, &gx, 3, SIGNED) == LATHE_OK, "lsq backward on 5003 elements succeeds");
    end_call();
    double sum = 0;
    int dx_ok = 1;
    for (int i = 0; i < N; i++) {
        float v = x[i] / s;
        double d = v <= -4.0f ? -4.0 : (v >= 3.0f ? 3.0 : (double)(nearbyintf(v) - v));
        sum += d * dy[i];
        dx_ok &= dx[i] == (v > -4.0f && v < 3.0f ? dy[i] : 0.0f);
    }
    expect(dx_ok, "lsq dx on 5003 elements: dy inside, 0 outside");
    expect_near(ds, sum / sqrt(5003.0 * 3.0), 1e-5, "lsq ds on 5003 elements (blocked float lanes vs a double sum)");
}

static void lsq_per_channel(void) {
    const lathe_method *m = method("lsq-channel");
    expect(m->learnables[0].shape_rule == LATHE_SHAPE_PER_CHANNEL, "lsq-channel declares a per-channel step");
    float y[6], dx[6], s[2] = {0.5f, 1.0f}, ds[2];
    F32(x, X, 2, 3);
    F32(out, y, 2, 3);
    F32(gy, DY, 2, 3);
    F32(gx, dx, 2, 3);
    F32(step, s, 2);
    F32(dstep, ds, 2);
    const DLTensor *values[] = {&step};
    DLTensor *outputs[] = {&dstep};
    /* Signed 3 bits: Qn = 4, Qp = 3. Channel 0 / 0.5: [-2, -0.6, 0.1] -> [-2, -1, 0]; channel 1 / 1: [0.26, 0.9, 2] -> [0, 1, 2]. */
    lathe_call c = make_call(LATHE_ROLE_WEIGHT, 0);
    c.learnable_count = 1;
    c.learnables = values;
    c.learnable_outputs = outputs;
    expect(((fwd2)m->function)(&c, &x, &out, 3, AUTO) == LATHE_OK, "lsq-channel forward succeeds");
    end_call();
    expect_values(y, (double[]){-1.0, -0.5, 0, 0, 1, 2}, 6, 1e-7, "lsq-channel forward");
    expect(last_qparams.axis == 0 && last_qparams.count == 2 && last_scales[0] == 0.5f && last_scales[1] == 1.0f &&
               last_qparams.qmin == -4 && last_qparams.qmax == 3,
           "lsq-channel qparams: axis 0, two scales, [-4, 3]");
    expect(((bwd2)m->backward)(&c, &x, &gy, &gx, 3, AUTO) == LATHE_OK, "lsq-channel backward succeeds");
    end_call();
    /* All inside: ds_0 = (0*.1 - .4*.2 - .1*.3) / sqrt(3*3), ds_1 = (-.26*.4 + .1*.5 + 0*.6) / 3. */
    expect_values(dx, (double[]){0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, 6, 1e-7, "lsq-channel dx");
    expect_values(ds, (double[]){-0.11 / 3, -0.054 / 3}, 2, 1e-6, "lsq-channel ds per channel");
    /* Init per channel: 2 mean|x_c| / sqrt(3). */
    lathe_call i = make_call(LATHE_ROLE_WEIGHT, 0);
    i.learnable_count = 1;
    i.learnable_outputs = outputs;
    expect(((init2)m->init_learnables)(&i, &x, 3, AUTO) == LATHE_OK, "lsq-channel init succeeds");
    end_call();
    expect_values(ds, (double[]){0.9 / sqrt(3.0), 2 * 3.16 / 3 / sqrt(3.0)}, 2, 1e-6, "lsq-channel init");
    /* Axis 1 of a [2, 3] input has 3 channels: a 2-element step is refused. */
    lathe_call a1 = make_call(LATHE_ROLE_ACTIVATION, 1);
    a1.learnable_count = 1;
    a1.learnables = values;
    expect(((fwd2)m->function)(&a1, &x, &out, 3, AUTO) == LATHE_INVALID_ARGUMENT, "lsq-channel step size follows the call's axis");
    end_call();
}

static void lsq_plus(void) {
    const lathe_method *m = method("lsq-plus");
    expect(m->learnable_count == 2, "lsq-plus declares step and offset");
    float y[6], dx[6], s = 0.5f, beta = -0.5f, ds, dbeta;
    F32(x, X, 6);
    F32(out, y, 6);
    F32(gy, DY, 6);
    F32(gx, dx, 6);
    F32(step, &s, 1);
    F32(offset, &beta, 1);
    F32(dstep, &ds, 1);
    F32(doffset, &dbeta, 1);
    const DLTensor *values[] = {&step, &offset};
    DLTensor *outputs[] = {&dstep, &doffset};
    /* u = (x + 0.5) / 0.5 = [-1, 0.4, 1.1, 1.52, 2.8, 5], clip [0, 3], round: [0, 0, 1, 2, 3, 3]. */
    lathe_call c = make_call(LATHE_ROLE_NONE, -1);
    c.learnable_count = 2;
    c.learnables = values;
    c.learnable_outputs = outputs;
    expect(((fwd1)m->function)(&c, &x, &out, 2) == LATHE_OK, "lsq-plus forward succeeds");
    end_call();
    expect_values(y, (double[]){-0.5, -0.5, 0, 0.5, 1.0, 1.0}, 6, 1e-7, "lsq-plus forward");
    expect(last_qparams.scheme == LATHE_QSCHEME_AFFINE && last_zero_points[0] == 1 && last_scales[0] == 0.5f,
           "lsq-plus qparams: zero point round(-beta/s) = 1");
    expect(((bwd1)m->backward)(&c, &x, &gy, &gx, 2) == LATHE_OK, "lsq-plus backward succeeds");
    end_call();
    /* ds terms: -.4*.2 - .1*.3 + .48*.4 + .2*.5 + 3*.6 = 1.982; dbeta: .1 + .6; g = 1/sqrt(6 * 3). */
    expect_values(dx, (double[]){0, 0.2, 0.3, 0.4, 0.5, 0}, 6, 1e-7, "lsq-plus dx");
    expect_near(ds, 1.982 / sqrt(18.0), 1e-6, "lsq-plus ds");
    expect_near(dbeta, 0.7 / sqrt(18.0), 1e-6, "lsq-plus dbeta");
    /* Init: s = (2 - (-1)) / 3, beta = -1. */
    lathe_call i = make_call(LATHE_ROLE_ACTIVATION, 1);
    i.learnable_count = 2;
    i.learnable_outputs = outputs;
    expect(((init1)m->init_learnables)(&i, &x, 2) == LATHE_OK, "lsq-plus init succeeds");
    end_call();
    expect(ds == 1.0f && dbeta == -1.0f, "lsq-plus init min/max");
}

static void pact(void) {
    const lathe_method *m = method("pact");
    float y[6], dx[6], alpha = 1.5f, da;
    F32(out, y, 6);
    F32(gy, DY, 6);
    F32(gx, dx, 6);
    F32(a, &alpha, 1);
    F32(dalpha, &da, 1);
    const DLTensor *values[] = {&a};
    DLTensor *outputs[] = {&dalpha};
    /* Unsigned 2 bits, alpha 1.5: d = 0.5; clip(x, 0, 1.5) / d = [0, 0, 0.1, 0.52, 1.8, 3] -> [0, 0, 0, 1, 2, 3]. */
    F32(x, X, 6);
    lathe_call c = make_call(LATHE_ROLE_ACTIVATION, 1);
    c.learnable_count = 1;
    c.learnables = values;
    c.learnable_outputs = outputs;
    expect(((fwd_pact)m->function)(&c, &x, &out, 2, AUTO, 1.0f) == LATHE_OK, "pact forward succeeds");
    end_call();
    expect_values(y, (double[]){0, 0, 0, 0.5, 1.0, 1.5}, 6, 1e-7, "pact unsigned forward");
    expect(last_qparams.scheme == LATHE_QSCHEME_AFFINE && last_qparams.qmax == 3 && last_scales[0] == 0.5f, "pact unsigned qparams");
    expect(((bwd_pact)m->backward)(&c, &x, &gy, &gx, 2, AUTO, 1.0f) == LATHE_OK, "pact backward succeeds");
    end_call();
    /* x < 0: 0; 0 <= x < alpha: dy; x >= alpha (2.0): dalpha. */
    expect_values(dx, (double[]){0, 0, 0.3, 0.4, 0.5, 0}, 6, 1e-7, "pact unsigned dx");
    expect_near(da, 0.6, 1e-7, "pact unsigned dalpha");
    /* The boundaries: x = alpha counts for alpha, x = 0 passes. */
    float xb[2] = {1.5f, 0.0f}, gb[2] = {1.0f, 2.0f}, db[2];
    F32(xe, xb, 2);
    F32(ge, gb, 2);
    F32(de, db, 2);
    expect(((bwd_pact)m->backward)(&c, &xe, &ge, &de, 2, AUTO, 1.0f) == LATHE_OK && db[0] == 0 && db[1] == 2 && da == 1,
           "pact at x = alpha: dalpha; at x = 0: dx");
    end_call();
    /* Signed 3 bits (weights): clip(x, -1.5, 1.5), d = 1.5 / 3. */
    float xs[6] = {-2.0f, -0.3f, 0.05f, 0.26f, 0.9f, 2.0f};
    F32(x2, xs, 6);
    lathe_call w = make_call(LATHE_ROLE_WEIGHT, 0);
    w.learnable_count = 1;
    w.learnables = values;
    w.learnable_outputs = outputs;
    expect(((fwd_pact)m->function)(&w, &x2, &out, 3, AUTO, 1.0f) == LATHE_OK, "pact signed forward succeeds");
    end_call();
    expect_values(y, (double[]){-1.5, -0.5, 0, 0.5, 1.0, 1.5}, 6, 1e-7, "pact signed forward");
    expect(last_qparams.scheme == LATHE_QSCHEME_SYMMETRIC && last_qparams.qmin == -3 && last_qparams.qmax == 3, "pact signed qparams");
    expect(((bwd_pact)m->backward)(&w, &x2, &gy, &gx, 3, AUTO, 1.0f) == LATHE_OK, "pact signed backward succeeds");
    end_call();
    expect_values(dx, (double[]){0, 0.2, 0.3, 0.4, 0.5, 0}, 6, 1e-7, "pact signed dx");
    expect_near(da, 0.6 - 0.1, 1e-7, "pact signed dalpha: +dy above, -dy below");
    /* Init: init_ratio times the first tensor's max (signed: max |x|). */
    lathe_call i = make_call(LATHE_ROLE_ACTIVATION, 1);
    i.learnable_count = 1;
    i.learnable_outputs = outputs;
    expect(((init_pact)m->init_learnables)(&i, &x, 2, AUTO, 1.0f) == LATHE_OK && da == 2.0f, "pact init max");
    expect(((init_pact)m->init_learnables)(&i, &x, 2, AUTO, 0.5f) == LATHE_OK && da == 1.0f, "pact init ratio * max");
    float xn[2] = {-3.0f, 1.0f};
    F32(x3, xn, 2);
    expect(((init_pact)m->init_learnables)(&i, &x3, 2, SIGNED, 1.0f) == LATHE_OK && da == 3.0f, "pact signed init max|x|");
    expect(((init_pact)m->init_learnables)(&i, &x3, 2, AUTO, 0.0f) == LATHE_INVALID_ARGUMENT, "pact refuses init_ratio 0");
    end_call();
}

int main(void) {
    lsq_per_tensor();
    lsq_large();
    lsq_per_channel();
    lsq_plus();
    pact();
    return finish();
}
