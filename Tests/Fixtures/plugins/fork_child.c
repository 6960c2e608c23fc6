/*
 * fork_child.c — test fixture, BAD: the quantizer `forker/binary` forks a child on its first
 * call, and that child sleeps in pause() forever, outliving the call and the host process that
 * made it. Otherwise the method is correct: x -> mean|x| * sign(x) (binary, BinaryConnect-like),
 * deterministic and thread-safe, and it passes every conformance check.
 *
 * A host must neither hang on the left-over child (it holds every descriptor the worker had) nor
 * leave it running: when the worker or trial process ends, the rest of its process group goes.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libfork_child.so fork_child.c
 */
#define _POSIX_C_SOURCE 200809L
#include <lathe_plugin.h>
#include <math.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_flag forked = ATOMIC_FLAG_INIT;

static int32_t binarize(lathe_call *call, const DLTensor *input, DLTensor *output) {
    if (!atomic_flag_test_and_set(&forked) && fork() == 0) {
        for (;;) pause(); /* THE DEFECT: a child that never ends */
    }
    int64_t n = 1;
    for (int i = 0; i < input->ndim; i++) n *= input->shape[i];
    const float *x = input->data;
    float *y = output->data;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += fabsf(x[i]);
    float scale = n ? (float)(sum / (double)n) : 1.0f;
    if (!(scale > 0)) scale = 1.0f;
    for (int64_t i = 0; i < n; i++) y[i] = x[i] >= 0 ? scale : -scale;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_BINARY, 1, -1, 0, 0, 1, &scale, 0, 0, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    static const lathe_method method = {
        LATHE_HEAD(lathe_method), "binary", "Binary (forks a child that never ends)", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0,
        (lathe_function)binarize,
    };
    return registrar->register_method(registrar, &method);
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "forker", "1.0.0", "test fixture: forks a child that outlives the call", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
