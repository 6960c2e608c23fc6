/* Drives distill/dkd: the loss against a direct transcription of the paper's definition, the
 * warm-up from the call's epoch, and the gradient against central finite differences. */
#include "harness.h"

typedef int32_t (*dkd_fn)(lathe_call *, const DLTensor *, const DLTensor *, const DLTensor *, double *, DLTensor *, float, float,
                          float, int32_t);

enum { B = 3, K = 5 };

/** The definition, term by term (softmaxes, the binary split, the masked non-target softmax). */
static double reference(const float *s, const float *t, const int64_t *y, double alpha, double beta, double T) {
    double total = 0;
    for (int i = 0; i < B; i++) {
        double p[K], q[K], zs = 0, zt = 0;
        for (int j = 0; j < K; j++) zs += exp(s[i * K + j] / T), zt += exp(t[i * K + j] / T);
        for (int j = 0; j < K; j++) p[j] = exp(s[i * K + j] / T) / zs, q[j] = exp(t[i * K + j] / T) / zt;
        int g = (int)y[i];
        double tckd = q[g] * log(q[g] / p[g]) + (1 - q[g]) * log((1 - q[g]) / (1 - p[g]));
        double nckd = 0;
        for (int j = 0; j < K; j++)
            if (j != g) nckd += q[j] / (1 - q[g]) * log((q[j] / (1 - q[g])) / (p[j] / (1 - p[g])));
        total += alpha * tckd + beta * nckd;
    }
    return total / B * T * T;
}

int main(void) {
    const lathe_method *m = method("dkd");
    dkd_fn f = (dkd_fn)m->function;
    expect(m->loss_category == LATHE_LOSS_RESPONSE && m->param_count == 4, "dkd is a response loss with alpha, beta, T, warmup");
    /* Logits on a 2^-10 grid so that the finite-difference steps 2^-8 are exact in float32. */
    float s[B * K], t[B * K], grad[B * K];
    uint64_t r = 12345;
    for (int i = 0; i < B * K; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        s[i] = (float)((int)(r >> 40) % 4096 - 2048) / 1024.0f * 2;
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (float)((int)(r >> 40) % 4096 - 2048) / 1024.0f * 3;
    }
    int64_t y[B] = {0, 3, 4};
    F32(st, s, B, K);
    F32(tt, t, B, K);
    F32(gt, grad, B, K);
    I64(yt, y, B);
    const float alpha = 1.0f, beta = 8.0f, T = 4.0f;
    double loss = 0;
    lathe_call c = make_call(LATHE_ROLE_LOGITS, -1);
    expect(f(&c, &st, &tt, &yt, &loss, &gt, alpha, beta, T, 20) == LATHE_OK, "dkd outside training succeeds");
    end_call();
    expect_near(loss, reference(s, t, y, alpha, beta, T), 1e-12, "dkd loss = the definition (no warm-up outside training)");
    double unwarmed = loss;

    /* Central differences in double of the double loss; the gradient is float32. */
    const float h = 1.0f / 256;
    char label[64];
    for (int i = 0; i < B * K; i++) {
        float keep = s[i];
        double plus, minus;
        float scratch_grad[B * K];
        F32(sg, scratch_grad, B, K);
        s[i] = keep + h;
        f(&c, &st, &tt, &yt, &plus, &sg, alpha, beta, T, 20);
        end_call();
        s[i] = keep - h;
        f(&c, &st, &tt, &yt, &minus, &sg, alpha, beta, T, 20);
        end_call();
        s[i] = keep;
        snprintf(label, sizeof label, "dkd gradient [%d] vs central difference", i);
        expect_near(grad[i], (plus - minus) / (2.0 * h), 2e-5, label);
    }

    /* Warm-up: epoch 4 (0-based) of a 20-epoch warm-up weighs 5/20; the gradient scales alike. */
    float warm_grad[B * K];
    F32(wg, warm_grad, B, K);
    lathe_call train = make_call(LATHE_ROLE_LOGITS, -1);
    train.epoch = 4;
    train.total_epochs = 100;
    train.step = 400;
    train.total_steps = 10000;
    expect(f(&train, &st, &tt, &yt, &loss, &wg, alpha, beta, T, 20) == LATHE_OK, "dkd in training succeeds");
    end_call();
    expect_near(loss, unwarmed * 5.0 / 20.0, 1e-12, "dkd warm-up factor (epoch + 1) / warmup");
    expect_near(warm_grad[7], grad[7] * 0.25, 1e-6, "dkd warm-up scales the gradient");
    train.epoch = 30;
    f(&train, &st, &tt, &yt, &loss, &wg, alpha, beta, T, 20);
    end_call();
    expect_near(loss, unwarmed, 1e-12, "dkd after the warm-up: factor 1");
    train.epoch = 0;
    f(&train, &st, &tt, &yt, &loss, &wg, alpha, beta, T, 0);
    end_call();
    expect_near(loss, unwarmed, 1e-12, "dkd with warmup 0: factor 1");
    /* A 1.0-sized call has no epoch: no warm-up. */
    lathe_call old = make_call(LATHE_ROLE_NONE, -1);
    old.head.size = (uint32_t)offsetof(lathe_call, layer);
    expect(f(&old, &st, &tt, &yt, &loss, &wg, alpha, beta, T, 20) == LATHE_OK, "dkd on a 1.0 call succeeds");
    end_call();
    expect_near(loss, unwarmed, 1e-12, "dkd on a 1.0 call: no warm-up");

    /* Other alpha/beta/T against the definition; a confident teacher (q_g near 1) stays finite. */
    expect(f(&c, &st, &tt, &yt, &loss, &gt, 0.5f, 2.0f, 1.0f, 20) == LATHE_OK, "dkd T = 1 succeeds");
    end_call();
    expect_near(loss, reference(s, t, y, 0.5, 2.0, 1.0), 1e-12, "dkd loss at alpha 0.5, beta 2, T 1");
    float sharp[B * K];
    for (int i = 0; i < B * K; i++) sharp[i] = t[i];
    for (int i = 0; i < B; i++) sharp[i * K + (int)y[i]] = 80.0f;
    F32(sh, sharp, B, K);
    expect(f(&c, &st, &sh, &yt, &loss, &gt, alpha, beta, 1.0f, 20) == LATHE_OK && isfinite(loss), "dkd with a one-hot teacher is finite");
    end_call();
    /* A label outside the classes is refused with its value. */
    int64_t bad[B] = {0, 5, 1};
    I64(bt, bad, B);
    expect(f(&c, &st, &tt, &bt, &loss, &gt, alpha, beta, T, 20) == LATHE_INVALID_ARGUMENT && strstr(last_error, "label 5") != NULL,
           "dkd refuses label 5 of 5 classes");
    end_call();
    return finish();
}
