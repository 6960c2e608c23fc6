/* calib_internal.h — declarations shared by the calib plugin's files (private). */
#ifndef CALIB_INTERNAL_H
#define CALIB_INTERNAL_H

#include <lathe_plugin.h>
#include <lathe_plugin_support.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/** A [G, D] (or [G, D, D] when `gram`) statistics tensor of the call, checked against a weight
 *  of `out` rows and `features` elements per row: float32, CPU, compact, G dividing `out`.
 *  `which` names it in messages. Returns the data, or NULL after reporting the failure into
 *  `*status`. `*groups` receives G. */
LATHE_SUPPORT_HIDDEN const float *calib_statistics(lathe_call *call, const DLTensor *t, const char *which, int64_t out,
                                                   int64_t features, bool gram, int64_t *groups, int32_t *status);

LATHE_SUPPORT_HIDDEN int32_t calib_wanda(lathe_call *call, const DLTensor *weight, const DLTensor *gradient,
                                         const DLTensor *aux, DLTensor *scores, float activation_power);

#endif
