/*
 * formats.c — the `formats` plugin: group-wise integers and floating-point element formats
 * (OCP 8-bit FP and Microscaling) for weights.
 *
 * Written in C11 against lathe_plugin.h (ABI 1.1: MINIFLOAT scheme, group_size, element and
 * scale formats in lathe_qparams). Built by SwiftPM as libLatheFormats.so; standalone:
 *   cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -I Plugins/c-support/include \
 *      -o libformats.so Plugins/c-formats/{formats,minifloat,int_group,mx,fp8}.c Plugins/c-support/support.c -lm
 * Files: formats.c (descriptors), minifloat.c (the one rounding to a minifloat format, the
 * formats, the group layout), int_group.c, mx.c, fp8.c, formats_internal.h (shared).
 *
 * Methods (all: kind quantizer, thread-safe, deterministic; rows are dimension 0, a row is
 * everything after it flattened; a group never crosses a row and the last one of a row may be
 * shorter)
 *   formats/int_group  symmetric INTb, one scale max|x|/qmax per group of g (fp16/bf16/fp32 scales)
 *   formats/mxfp4      OCP MX: 32-element blocks, E8M0 shared scale, E2M1 elements
 *   formats/mxfp8      OCP MX: 32-element blocks, E8M0 shared scale, E4M3 elements
 *   formats/fp8        FP8 E4M3 or E5M2 with an fp32 scale amax/max per tensor or channel
 * Every rounding to a floating-point format (elements, and fp16/bf16 scales) is the one
 * function minifloat_round (round to nearest, ties to even, subnormals, saturating).
 *
 * Idempotence: int_group with fp16/bf16 scales and the MX methods are exactly idempotent (the
 * re-derived scale is the same: qmax * s / qmax = s exactly, and an MX block's largest output
 * keeps its binade); fp8 and int_group with fp32 scales re-derive their scale to within an ulp.
 * No global state is written; the scale arrays come from host->scratch.
 */
#include "formats_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Descriptors                                                                                 */

static const char *const scale_choices[INT_SCALE_COUNT] = {"fp16", "bf16", "fp32"};
static const char *const fp8_choices[FP8_COUNT] = {"e4m3", "e5m2"};

static const lathe_param int_group_params[] = {
    {LATHE_HEAD(lathe_param), "bits", LATHE_PARAM_I32, "bit width b: integers -(2^(b-1)-1)..2^(b-1)-1", 4, 2, 8, NULL, 0},
    {LATHE_HEAD(lathe_param), "group_size", LATHE_PARAM_I32,
     "elements per group along a row (32, 64 and 128 are usual); the last group of a row may be shorter", 128, 1, 4096,
     NULL, 0},
    {LATHE_HEAD(lathe_param), "scale_format", LATHE_PARAM_ENUM,
     "how the group scales are stored: fp16 (rounded to nearest), bf16 (likewise) or fp32", 0, 0, 0, scale_choices,
     INT_SCALE_COUNT},
};

static const lathe_param fp8_params[] = {
    {LATHE_HEAD(lathe_param), "format", LATHE_PARAM_ENUM,
     "element format: e4m3 (bias 7, max 448) or e5m2 (bias 15, max 57344)", 0, 0, 0, fp8_choices, FP8_COUNT},
    {LATHE_HEAD(lathe_param), "per_channel", LATHE_PARAM_BOOL,
     "one scale per output channel (dimension 0) instead of one per tensor", 1, 0, 1, NULL, 0},
};

static const char int_group_doc[] =
    "Group-wise symmetric integers (e.g. INT4 g128): each row (dimension 0) is cut into groups of "
    "group_size consecutive elements (the last group of a row may be shorter, a group never "
    "crosses a row); per group s = max|x| / qmax with qmax = 2^(b-1) - 1, rounded to scale_format "
    "(fp16 or bf16: to nearest, ties to even; a scale over the format's range is refused, one "
    "below its smallest subnormal becomes that subnormal), x_q = s * clamp(round(x / s), -qmax, "
    "qmax) with round half to even. An all-zero group reports scale 1. Reports scheme symmetric, "
    "b bits, axis 0, group_size, one scale per group (rows * ceil(row / group_size), row-major).";

static const char mxfp4_doc[] =
    "OCP Microscaling MXFP4: each row (dimension 0) is cut into blocks of 32 consecutive "
    "elements (the last block of a row may be shorter); per block the shared scale is "
    "X = 2^(floor(log2 max|x|) - 2) (E8M0, clamped to 2^-127; 1 for an all-zero block) and each "
    "element is x / X rounded to FP4 E2M1 (values 0, 0.5, 1, 1.5, 2, 3, 4, 6; ties to even; "
    "saturating to 6), x_q = X * element. NaN or infinite inputs are refused (the spec would give "
    "the block a NaN scale). Reports scheme minifloat, 4 bits, element fp4-e2m1, scale e8m0, "
    "group_size 32.";

static const char mxfp8_doc[] =
    "OCP Microscaling MXFP8 (E4M3): each row (dimension 0) is cut into blocks of 32 consecutive "
    "elements (the last block of a row may be shorter); per block the shared scale is "
    "X = 2^(floor(log2 max|x|) - 8) (E8M0, clamped to 2^-127; 1 for an all-zero block) and each "
    "element is x / X rounded to FP8 E4M3 (bias 7, subnormals down to 2^-9, ties to even, "
    "saturating to 448), x_q = X * element. NaN or infinite inputs are refused (the spec would "
    "give the block a NaN scale). Reports scheme minifloat, 8 bits, element fp8-e4m3, scale "
    "e8m0, group_size 32.";

static const char fp8_doc[] =
    "FP8 with an fp32 scale per output channel (dimension 0) or per tensor: s = max|x| / M with "
    "M = 448 (E4M3) or 57344 (E5M2), x_q = s * e(x / s), e() rounding to the format (to nearest, "
    "ties to even, with subnormals, saturating to M; x / s in double). An all-zero channel "
    "reports scale 1. NaN or infinite inputs are refused. Reports scheme minifloat, 8 bits, "
    "element fp8-e4m3 or fp8-e5m2, scale fp32.";

static int32_t plugin_init(const lathe_host *host, const lathe_registrar *registrar) {
    const uint32_t flags = LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC;
    static const char mx_reference[] =
        "Open Compute Project, OCP Microscaling Formats (MX) Specification v1.0, 2023; Rouhani et al., "
        "Microscaling Data Formats for Deep Learning, arXiv:2310.10537, 2023";
    const lathe_method methods[] = {
        {LATHE_HEAD(lathe_method), "int_group", "Group-wise symmetric integers (INTb gN)", int_group_doc,
         "Frantar, Ashkboos, Hoefler & Alistarh, GPTQ, ICLR 2023 (group-wise scales); Dettmers & Zettlemoyer, "
         "The case for 4-bit precision: k-bit Inference Scaling Laws, ICML 2023",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, int_group_params, 3,
         (lathe_function)quantize_int_group, NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "mxfp4", "MXFP4 (OCP Microscaling, E2M1 elements)", mxfp4_doc, mx_reference,
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)quantize_mxfp4,
         NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "mxfp8", "MXFP8 (OCP Microscaling, E4M3 elements)", mxfp8_doc, mx_reference,
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, NULL, 0, (lathe_function)quantize_mxfp8,
         NULL, 0, NULL, NULL},
        {LATHE_HEAD(lathe_method), "fp8", "FP8 E4M3 / E5M2", fp8_doc,
         "Micikevicius et al., FP8 Formats for Deep Learning, arXiv:2209.05433, 2022; Open Compute Project, OCP "
         "8-bit Floating Point Specification (OFP8) rev. 1.0, 2023",
         LATHE_KIND_QUANTIZER, flags, LATHE_GRANULARITY_NONE, LATHE_LOSS_NONE, fp8_params, 2,
         (lathe_function)quantize_fp8, NULL, 0, NULL, NULL},
    };
    return lathe_register_methods(host, registrar, "formats", methods, sizeof methods / sizeof methods[0]);
}

static const lathe_plugin formats_plugin = {
    LATHE_HEAD(lathe_plugin),
    "formats",
    "1.0.0",
    "Group-wise integers and floating-point formats: INTb with group scales, MXFP4, MXFP8, FP8 E4M3/E5M2",
    plugin_init,
    NULL,
};

/** The plugin's entry point. */
LATHE_EXPORT const lathe_plugin *lathe_plugin_entry(void) { return &formats_plugin; }
