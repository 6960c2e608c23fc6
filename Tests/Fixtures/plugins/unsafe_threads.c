/*
 * unsafe_threads.c — test fixture, BAD: the ELEMENT criterion `unsafe_threads/racy` declares
 * LATHE_FLAG_THREAD_SAFE (and DETERMINISTIC) but stages its scores in one global buffer without
 * any locking:
 *
 *   for each chunk of the weight:  buffer = |w|;  sleep 1 ms;  scores = buffer;  buffer = 0
 *
 * Called from one thread at a time it is correct and deterministic (scores = |w|). Called
 * concurrently, one call reads the buffer after another has overwritten or cleared it, so its
 * scores come out as the other call's values or as zeros — even when both calls get the same
 * weight. A thread-safety check (compare concurrent results with serial ones) must catch it.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libunsafe_threads.so unsafe_threads.c
 */
#define _POSIX_C_SOURCE 200809L
#include <lathe_plugin.h>
#include <math.h>
#include <time.h>

enum { CHUNK = 1 << 16 };

/* THE DEFECT: shared, unsynchronized scratch. volatile keeps the compiler from forwarding the
 * stores straight to the loads, so the buffer really is the channel between the steps. */
static volatile float buffer[CHUNK];

static int32_t racy(lathe_call *call, const DLTensor *weight, const DLTensor *gradient, const DLTensor *aux,
                    DLTensor *scores) {
    (void)call;
    (void)gradient;
    (void)aux;
    int64_t n = 1;
    for (int d = 0; d < weight->ndim; d++) n *= weight->shape[d];
    const float *w = weight->data;
    float *out = scores->data;
    const struct timespec pause_1ms = {0, 1000000};
    for (int64_t start = 0; start < n; start += CHUNK) {
        int64_t len = n - start < CHUNK ? n - start : CHUNK;
        for (int64_t i = 0; i < len; i++) buffer[i] = fabsf(w[start + i]);
        nanosleep(&pause_1ms, NULL); /* widens the race window */
        for (int64_t i = 0; i < len; i++) out[start + i] = buffer[i];
        for (int64_t i = 0; i < len; i++) buffer[i] = 0.0f;
    }
    return LATHE_OK;
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "racy", "Magnitude through a shared buffer", NULL, NULL, LATHE_KIND_CRITERION,
        LATHE_FLAG_THREAD_SAFE /* a lie */ | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_ELEMENT, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)racy,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "unsafe_threads", "1.0.0", "test fixture: not thread-safe", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
