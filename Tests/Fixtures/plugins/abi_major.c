/*
 * abi_major.c — test fixture, BAD: the plugin descriptor claims ABI major version 2.
 *
 * Everything else is valid (a working identity quantizer `abi_major/identity`), so the only
 * reason to refuse it is `plugin->head.abi_major != LATHE_ABI_MAJOR`. The host must refuse it
 * before calling init, naming both versions (2 and 1).
 *
 * Build: cc -shared -fPIC -I Sources/CLathePlugin/include -o libabi_major.so abi_major.c
 */
#include <lathe_plugin.h>
#include <string.h>

/** Copies input to output and reports trivial parameters. Never reached by a correct host. */
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
    const lathe_method method = {
        LATHE_HEAD(lathe_method), "identity", "Identity", NULL, NULL, LATHE_KIND_QUANTIZER,
        LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE,
        NULL, 0, (lathe_function)identity,
    };
    return registrar->register_method(registrar, &method);
}

/* THE DEFECT: abi_major 2 (a future, incompatible ABI) instead of LATHE_ABI_MAJOR (1). */
static const lathe_plugin plugin = {
    {2, 0, (uint32_t)sizeof(lathe_plugin)}, "abi_major", "1.0.0", "test fixture: ABI 2.0", init, NULL,
};

LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &plugin; }
