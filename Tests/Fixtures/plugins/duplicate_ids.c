/*
 * duplicate_ids.c — test fixture, BAD: registers two methods with the same id, "same".
 *
 * Both are otherwise valid quantizers (no hyperparameters). The registrar must refuse the
 * second registration (LATHE_INVALID_ARGUMENT, reason logged). init deliberately ignores what
 * register_method returns and reports LATHE_OK, as a careless plugin would, so catching the
 * duplicate is entirely up to the host.
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libduplicate_ids.so duplicate_ids.c
 */
#include <lathe_plugin.h>
#include <string.h>

/** Copies input to output (float32, compact) and reports trivial parameters. */
static int32_t identity(lathe_call *call, const DLTensor *input, DLTensor *output) {
    int64_t n = 1;
    for (int d = 0; d < input->ndim; d++) n *= input->shape[d];
    memmove(output->data, input->data, (size_t)n * sizeof(float));
    static const float scale = 1.0f;
    lathe_qparams q = {LATHE_HEAD(lathe_qparams), LATHE_QSCHEME_SYMMETRIC, 16, -1, -32767, 32767, 1, &scale, NULL, NULL, 0};
    return call->host->report_qparams(call, &q);
}

static int32_t init(const lathe_host *host, const lathe_registrar *registrar) {
    (void)host;
    const lathe_method first = {
        LATHE_HEAD(lathe_method), "same", "First", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)identity,
    };
    lathe_method second = first;
    second.title = "Second";
    /* THE DEFECT: the same id twice; the statuses are ignored on purpose. */
    (void)registrar->register_method(registrar, &first);
    (void)registrar->register_method(registrar, &second);
    return LATHE_OK;
}

static const lathe_plugin plugin = {LATHE_HEAD(lathe_plugin), "duplicate_ids", "1.0.0", "test fixture: duplicate method ids", init, NULL};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
