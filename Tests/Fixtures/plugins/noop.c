/*
 * noop.c — test fixture: a VALID plugin `noop` with one quantizer, `noop/identity`.
 *
 * What it is for: exercising every hyperparameter type through libffi. `identity` takes one
 * hyperparameter of each lathe_param_type, in this order:
 *     bits  I32   default 8     range 2..16
 *     scale F32   default 1     range 0..10
 *     round BOOL  default 1
 *     mode  ENUM  default 0     choices {"a", "b"}
 *     big   I64   default 5     range 0..1e12
 *     eps   F64   default 1e-3  range 0..1
 * and records the values it received; the extra exported C function `noop_last_args` hands them
 * back, so a host test can check that each C type arrived intact.
 *
 * Behaviour: output = input (bit-exact copy), qparams SYMMETRIC, 16 bits, axis -1, qmin/qmax
 * -32767/32767, count 1, scale 1, zero_points NULL (the header's "all zero"). It fails with
 * LATHE_INVALID_ARGUMENT and an error naming the argument if bits is outside 2..16 or mode
 * outside 0..1 (values are recorded before that check). Deterministic and thread-safe: the
 * record is guarded by a spin lock (C11 atomics, so no -lpthread is needed).
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libnoop.so noop.c
 */
#include <lathe_plugin.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/** The last received hyperparameters and how many calls there were, under `record_lock`. */
static struct {
    int32_t bits;
    float scale;
    bool round;
    int32_t mode;
    int64_t big;
    double eps;
    int64_t calls;
} record;
static atomic_flag record_lock = ATOMIC_FLAG_INIT;

static void lock(void) {
    while (atomic_flag_test_and_set_explicit(&record_lock, memory_order_acquire)) { /* spin */ }
}
static void unlock(void) { atomic_flag_clear_explicit(&record_lock, memory_order_release); }

/**
 * Test hook (not part of the SDK): stores the hyperparameters of the most recent call to
 * `noop/identity` through the non-NULL pointers and returns the number of calls so far (0 if
 * none; the stored values are then all zero).
 */
LATHE_EXPORT int64_t noop_last_args(int32_t *bits, float *scale, bool *round, int32_t *mode, int64_t *big,
                                    double *eps) {
    lock();
    if (bits) *bits = record.bits;
    if (scale) *scale = record.scale;
    if (round) *round = record.round;
    if (mode) *mode = record.mode;
    if (big) *big = record.big;
    if (eps) *eps = record.eps;
    int64_t calls = record.calls;
    unlock();
    return calls;
}

static int32_t fail(lathe_call *call, int32_t status, const char *message) {
    call->host->report_error(call, message);
    return status;
}

/** Element count of a float32 CPU tensor, or -1 if it is something else. */
static int64_t float_count(const DLTensor *t) {
    if (!t || t->dtype.code != kDLFloat || t->dtype.bits != 32 || t->dtype.lanes != 1 || t->device.device_type != kDLCPU)
        return -1;
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/** noop/identity: copies input to output; see the file comment. */
static int32_t identity(lathe_call *call, const DLTensor *input, DLTensor *output, int32_t bits, float scale,
                        bool round, int32_t mode, int64_t big, double eps) {
    lock();
    record.bits = bits;
    record.scale = scale;
    record.round = round;
    record.mode = mode;
    record.big = big;
    record.eps = eps;
    record.calls++;
    unlock();

    char message[96];
    if (bits < 2 || bits > 16) {
        snprintf(message, sizeof message, "bits = %d is outside 2..16", (int)bits);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    if (mode < 0 || mode > 1) {
        snprintf(message, sizeof message, "mode = %d is outside 0..1 (choices a, b)", (int)mode);
        return fail(call, LATHE_INVALID_ARGUMENT, message);
    }
    int64_t n = float_count(input);
    if (n < 0 || float_count(output) != n || output->ndim != input->ndim)
        return fail(call, LATHE_UNSUPPORTED, "input and output must be float32 CPU tensors of one shape");
    if (n > 0) memmove(output->data, input->data, (size_t)n * sizeof(float));

    static const float unit_scale = 1.0f;
    lathe_qparams q;
    memset(&q, 0, sizeof q);
    q.head = (lathe_head)LATHE_HEAD(lathe_qparams);
    q.scheme = LATHE_QSCHEME_SYMMETRIC;
    q.bits = 16;
    q.axis = -1;
    q.qmin = -32767;
    q.qmax = 32767;
    q.count = 1;
    q.scales = &unit_scale;
    q.zero_points = NULL;
    return call->host->report_qparams(call, &q);
}

static const char *const mode_choices[] = {"a", "b"};

static const lathe_param identity_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "an int32", 8, 2, 16, NULL, 0},
    {LATHE_HEAD(lathe_param), "scale", LATHE_PARAM_F32, "a float", 1, 0, 10, NULL, 0},
    {LATHE_HEAD(lathe_param), "round", LATHE_PARAM_BOOL, "a bool", 1, 0, 1, NULL, 0},
    {LATHE_HEAD(lathe_param), "mode", LATHE_PARAM_ENUM, "an enum", 0, 0, 0, mode_choices, 2},
    {LATHE_HEAD(lathe_param), "big", LATHE_PARAM_I64, "an int64", 5, 0, 1e12, NULL, 0},
    {LATHE_HEAD(lathe_param), "eps", LATHE_PARAM_F64, "a double", 1e-3, 0, 1, NULL, 0},
};

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "identity", "Identity (test fixture)",
        "output = input; records its hyperparameters for noop_last_args", NULL,
        LATHE_KIND_QUANTIZER, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE,
        LATHE_LOSS_NONE, identity_params, 6, (lathe_function)identity,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "noop", "1.0.0", "test fixture: identity quantizer", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
