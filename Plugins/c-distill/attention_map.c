/* distill: self-attention distribution transfer (see distill.c for the formula and reference). */
#include "distill_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* distill/attention-map                                                                       */

/** Probabilities below this count as this in log and division (clamp; no gradient below it). */
#define PROB_EPS 1e-12

/** Refuses a negative probability (an attention map is non-negative: softmax rows). */
static int32_t check_probabilities(lathe_call *call, const view *v, const char *name) {
    for (size_t i = 0; i < v->count; i++)
        if (v->data[i] < 0)
            return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                               "%s element %zu is %g: expected attention probabilities (softmax rows, non-negative)", name, i,
                               (double)v->data[i]);
    return LATHE_OK;
}

/**
 * MiniLM's self-attention distribution transfer between attention maps [B, H, T, T] (rows: one
 * query's distribution over the keys). per_head = 1: L = (1/(B H T)) sum_{b,h,i} KL(P_bhi || Q_bhi),
 * P the teacher's rows and Q the student's; the head counts must match. per_head = 0: the maps are
 * first averaged over heads (any head counts): L = (1/(B T)) sum_{b,i} KL(P~_bi || Q~_bi).
 * KL(P || Q) = sum_j P_j (log max(P_j, eps) - log max(Q_j, eps)); dL/dQ_j = -c P_j / Q_j where
 * Q_j >= eps, else 0 (c the normalising constant, divided by H_s in the averaged form).
 */
int32_t attention_map(lathe_call *call, const DLTensor *student, const DLTensor *teacher, const DLTensor *labels, double *loss,
                      DLTensor *student_grad, int32_t per_head) {
    if (call == NULL) return LATHE_INVALID_ARGUMENT;
    loss_args a;
    int32_t status = prologue(call, student, teacher, labels, loss, student_grad, 4, &a);
    if (status != LATHE_OK) return status;
    char s1[96], s2[96];
    const view *s = &a.student, *t = &a.teacher;
    if (s->rank != 4 || t->rank != 4 || s->shape[2] != s->shape[3] || t->shape[2] != t->shape[3])
        return lathe_failf(call, LATHE_INVALID_ARGUMENT, "expects attention maps [B, heads, T, T]; got student %s and teacher %s",
                           shape_text(s, s1, sizeof s1), shape_text(t, s2, sizeof s2));
    if (s->shape[2] != t->shape[2])
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                           "student and teacher attend over different token counts (%zu and %zu): the maps cannot be compared",
                           s->shape[2], t->shape[2]);
    const size_t batch = s->batch, hs = s->shape[1], ht = t->shape[1], tokens = s->shape[2];
    if (per_head && hs != ht)
        return lathe_failf(call, LATHE_INVALID_ARGUMENT,
                           "per_head = 1 compares head by head, but the student has %zu heads and the teacher %zu: set per_head = 0 "
                           "to average the heads", hs, ht);
    if ((status = check_probabilities(call, s, "student")) != LATHE_OK) return status;
    if ((status = check_probabilities(call, t, "teacher")) != LATHE_OK) return status;
    const size_t row = tokens, plane = tokens * tokens;
    /* The compared distributions: per head, or each sample's head means (one plane per sample). */
    const size_t groups = per_head ? batch * hs : batch;
    double *p = scratch_doubles(call, 2 * groups * plane, &status);
    if (p == NULL) return status;
    double *q = p + groups * plane;
    for (size_t i = 0; i < 2 * groups * plane; i++) p[i] = 0;
    for (size_t b = 0; b < batch; b++) {
        for (size_t h = 0; h < (per_head ? hs : ht); h++) {
            const float *src = t->data + (b * ht + h) * plane;
            double *dst = p + (per_head ? b * hs + h : b) * plane;
            const double w = per_head ? 1.0 : 1.0 / (double)ht;
            for (size_t e = 0; e < plane; e++) dst[e] += w * (double)src[e];
        }
        for (size_t h = 0; h < hs; h++) {
            const float *src = s->data + (b * hs + h) * plane;
            double *dst = q + (per_head ? b * hs + h : b) * plane;
            const double w = per_head ? 1.0 : 1.0 / (double)hs;
            for (size_t e = 0; e < plane; e++) dst[e] += w * (double)src[e];
        }
    }
    const double scale = 1.0 / ((double)groups * (double)row);
    double total = 0;
    /* q becomes dL/dQ once its row is used. */
    for (size_t e = 0; e < groups * plane; e++) {
        const double pe = p[e], qe = q[e];
        const double qc = qe > PROB_EPS ? qe : PROB_EPS;
        if (pe > 0) total += pe * (log(pe > PROB_EPS ? pe : PROB_EPS) - log(qc));
        q[e] = qe >= PROB_EPS ? -scale * pe / qe : 0.0;
    }
    *loss = total * scale;
    float *g = a.grad.data;
    for (size_t b = 0; b < batch; b++)
        for (size_t h = 0; h < hs; h++) {
            const double *dq = q + (per_head ? b * hs + h : b) * plane;
            const double w = per_head ? 1.0 : 1.0 / (double)hs;
            float *dst = g + (b * hs + h) * plane;
            for (size_t e = 0; e < plane; e++) dst[e] = (float)(w * dq[e]);
        }
    return LATHE_OK;
}
