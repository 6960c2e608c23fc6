/*
 * calib.c — the `calib` plugin: calibration-aware compression methods, which read statistics of
 * a layer's input that the host computes on calibration batches (ABI 1.2, "Calibration
 * statistics" in lathe_plugin.h).
 *
 * Written in C11 against lathe_plugin.h (ABI 1.2). Built by SwiftPM as libLatheCalib.so;
 * standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libcalib.so Plugins/c-calib/{calib,wanda}.c Plugins/c-support/{support,context}.c -lm
 * Files: calib.c (descriptors), wanda.c, calib_internal.h (shared).
 *
 * Methods
 *   calib/wanda   criterion, element: |W_ij| · ‖X_j‖ (RMS over the calibration rows)
 *                 — Sun, Liu, Bair & Kolter, ICLR 2024
 */
#include "calib_internal.h"

static const lathe_param wanda_params[] = {
    {LATHE_HEAD(lathe_param), "activation_power", LATHE_PARAM_F32,
     "a in |W_ij| · ‖X_j‖^a: 1 is Wanda; 0 is magnitude pruning (the paper's ablation)", 1, 0, 4, NULL, 0},
};

static const char wanda_doc[] =
    "Wanda (pruning by weights and activations): S_ij = |W_ij| · ‖X_j‖₂^a, where X_j is input "
    "feature j of the layer over every calibration row (a token or a sample for linear layers; an "
    "unfolded input position for convs, so that feature j is what weight column j multiplies). The "
    "host passes the mean square Σx_j²/n; the score uses its square root, the RMS, which is "
    "‖X_j‖₂/√n: the same ranking within a layer and within an output row. The paper compares "
    "weights within each output row (sweep key scope = \"per-output\"); local and global scopes "
    "and N:M patterns take the scores as they are. No weight update. Grouped convs use each "
    "output channel's own group's statistics.";

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "wanda", "Wanda: |weight| × input-activation norm", wanda_doc,
         "Sun, Liu, Bair & Kolter, A Simple and Effective Pruning Approach for Large Language Models, "
         "ICLR 2024",
         LATHE_KIND_CRITERION, LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC | LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE,
         LATHE_GRANULARITY_ELEMENT, LATHE_LOSS_NONE, wanda_params, 1, (lathe_function)calib_wanda,
         NULL, 0, NULL, NULL},
    };
    return lathe_register_methods(host, registrar, "calib", methods, sizeof methods / sizeof methods[0]);
}

static const lathe_plugin calib_plugin = {
    LATHE_HEAD(lathe_plugin),
    "calib",
    "1.0.0",
    "Calibration-aware methods that read statistics of each layer's input: Wanda",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &calib_plugin; }
