/*
 * harness.h — a fake 1.1 host for driving first-party plugin functions directly from C (tests
 * compile a driver together with the plugin's sources; see PluginKernelDriverTests.swift). It
 * loads the plugin's descriptor through lathe_plugin_entry(), keeps the registered methods, and
 * offers report_error, report_qparams (the last report kept), scratch (freed after each call)
 * and state (one buffer per harness, its size fixed by the first request). Checks print
 * "FAIL ..." lines; finish() prints "passed N of N" and returns the exit status.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <lathe_plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;
static char last_error[1024];
static lathe_qparams last_qparams;
static float last_scales[64];
static int32_t last_zero_points[64];
static void *scratch_blocks[64];
static int scratch_count;
static void *state_buffer;
static size_t state_size;
static int state_enabled = 1;

static void expect(int ok, const char *what) {
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL %s\n", what);
    }
}

/** |actual - expected| <= tol * max(1, |expected|). */
static void expect_near(double actual, double expected, double tol, const char *what) {
    checks++;
    if (!(fabs(actual - expected) <= tol * fmax(1.0, fabs(expected)))) {
        failures++;
        printf("FAIL %s: got %.9g, expected %.9g\n", what, actual, expected);
    }
}

static int finish(void) {
    printf("passed %d of %d\n", checks - failures, checks);
    return failures ? 1 : 0;
}

static void host_log(const lathe_host *host, int32_t level, const char *message) {
    (void)host;
    (void)level;
    (void)message;
}
static void host_report_error(lathe_call *call, const char *message) {
    (void)call;
    snprintf(last_error, sizeof last_error, "%s", message);
}
static int32_t host_report_qparams(lathe_call *call, const lathe_qparams *q) {
    (void)call;
    last_qparams = *q;
    for (uint32_t i = 0; i < q->count && i < 64; i++) {
        last_scales[i] = q->scales ? q->scales[i] : 0;
        last_zero_points[i] = q->zero_points ? q->zero_points[i] : 0;
    }
    return LATHE_OK;
}
static void *host_scratch(lathe_call *call, size_t bytes) {
    (void)call;
    if (scratch_count == 64) return NULL;
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    scratch_blocks[scratch_count++] = p;
    return p;
}
static void *host_state(lathe_call *call, size_t bytes) {
    (void)call;
    if (!state_enabled || bytes > LATHE_STATE_MAX_BYTES) return NULL;
    if (state_buffer == NULL) {
        state_buffer = aligned_alloc(64, (bytes + 63) / 64 * 64);
        memset(state_buffer, 0, bytes);
        state_size = bytes;
    }
    return bytes == state_size ? state_buffer : NULL;
}

static const lathe_host host = {LATHE_HEAD(lathe_host), NULL, host_log, host_report_error, host_report_qparams, host_scratch,
                                host_state};

static lathe_method registered[16];
static int registered_count;

static int32_t register_method(const lathe_registrar *r, const lathe_method *m) {
    (void)r;
    registered[registered_count++] = *m;
    return LATHE_OK;
}

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void);

/** Loads the plugin (once) and returns method `id`, or exits. */
static const lathe_method *method(const char *id) {
    if (registered_count == 0) {
        static const lathe_registrar registrar = {LATHE_HEAD(lathe_registrar), NULL, register_method};
        if (lathe_plugin_entry()->init(&host, &registrar) != LATHE_OK) {
            printf("FAIL init\n");
            exit(1);
        }
    }
    for (int i = 0; i < registered_count; i++)
        if (strcmp(registered[i].id, id) == 0) return &registered[i];
    printf("FAIL no method %s\n", id);
    exit(1);
}

/** A 1.1 call: no layer, the given role and axis, outside training. */
static lathe_call make_call(int32_t role, int32_t axis) {
    lathe_call c;
    memset(&c, 0, sizeof c);
    c.head = (lathe_head)LATHE_HEAD(lathe_call);
    c.host = &host;
    c.layer = "";
    c.role = role;
    c.axis = axis;
    c.step = -1;
    c.epoch = -1;
    return c;
}

/** Frees the scratch memory of the last call and clears the last error. */
static void end_call(void) {
    for (int i = 0; i < scratch_count; i++) free(scratch_blocks[i]);
    scratch_count = 0;
}

/** Declares `DLTensor name` over `data` with the shape given by the trailing arguments. */
#define TENSOR(name, data, code, bits, ...)                                                                 \
    int64_t name##_shape[] = {__VA_ARGS__};                                                                  \
    DLTensor name = {(data), {kDLCPU, 0}, (int)(sizeof name##_shape / sizeof(int64_t)), {(code), (bits), 1}, \
                     name##_shape, NULL, 0}
#define F32(name, data, ...) TENSOR(name, data, kDLFloat, 32, __VA_ARGS__)
#define I64(name, data, ...) TENSOR(name, data, kDLInt, 64, __VA_ARGS__)

#endif
