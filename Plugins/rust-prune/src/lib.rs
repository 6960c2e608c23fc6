//! `prune` — Lathe's first-party pruning criteria, written in Rust against the plugin SDK
//! (`Sources/CLathePlugin/include/lathe_plugin.h`, ABI 1.0, through its Rust bindings
//! `Sources/CLathePlugin/rust/lathe_plugin.rs`).
//!
//! Layout: `validate.rs` checks every call's tensors, `criteria.rs` holds the scoring functions,
//! this file the descriptors and the entry point.
//!
//! Build (plain rustc, no cargo, no crates), from the repository root:
//!
//! ```text
//! rustc --edition 2021 --crate-type cdylib -C opt-level=3 -o libprune.so Plugins/rust-prune/src/lib.rs
//! ```
//!
//! Do not add `-C panic=abort`: every method body runs under `catch_unwind` so that a panic is
//! reported as LATHE_ERROR instead of crossing the C boundary.
//!
//! Methods (all LATHE_KIND_CRITERION; scores: higher = keep), with the calling convention
//! `int32_t f(lathe_call *call, const DLTensor *weight, const DLTensor *gradient,
//! const DLTensor *aux, DLTensor *scores, ...hyperparameters)`:
//!
//! | id          | granularity    | score                                   | needs    |
//! |-------------|----------------|-----------------------------------------|----------|
//! | `magnitude` | element        | \|w\|                                   |          |
//! | `l1-filter` | output channel | sum \|w_c\|                             |          |
//! | `l2-filter` | output channel | sqrt(sum w_c^2)                         |          |
//! | `fpgm`      | output channel | sum_j \|\|w_c - w_j\|\|_2               |          |
//! | `taylor`    | output channel | (sum w_c * g_c)^2                       | gradient |
//! | `snip`      | element        | \|w * g\|                               | gradient |
//! | `bn-scale`  | output channel | \|aux_c\|                               | aux      |
//! | `random`    | element        | uniform [0, 1) from SplitMix64(`seed`)  |          |
//! | `random-filter` | output channel | uniform [0, 1) from SplitMix64(`seed`) |      |
//!
//! All are thread-safe and deterministic: no global state, sums accumulate in f64 in a fixed
//! order.

#[path = "../../../Sources/CLathePlugin/rust/lathe_plugin.rs"]
mod lathe_plugin;
mod criteria;
mod validate;

use criteria::*;
use lathe_plugin::*;

// ---------------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------------

const SAFE: u32 = LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC;

static RANDOM_PARAMS: [lathe_param; 1] = [lathe_param {
    name: c"seed".as_ptr(),
    type_: LATHE_PARAM_I64,
    doc: c"PRNG seed: the same seed gives the same scores".as_ptr(),
    default_value: 0.0,
    min_value: 0.0,
    max_value: MAX_SEED as f64,
    ..lathe_param::EMPTY
}];

static METHODS: [lathe_method; 9] = [
    lathe_method {
        id: c"magnitude".as_ptr(),
        title: c"Weight magnitude".as_ptr(),
        doc: c"Element-wise magnitude: score = |w|. Prunes the smallest weights.".as_ptr(),
        reference: c"Han et al., Learning both Weights and Connections for Efficient Neural Networks, NeurIPS 2015".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE,
        granularity: LATHE_GRANULARITY_ELEMENT,
        function: lathe_function!(magnitude),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"l1-filter".as_ptr(),
        title: c"Filter L1 norm".as_ptr(),
        doc: c"Per output channel c (dimension 0): score_c = sum |w_c|, over all elements of the channel.".as_ptr(),
        reference: c"Li et al., Pruning Filters for Efficient ConvNets, ICLR 2017".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE,
        granularity: LATHE_GRANULARITY_OUTPUT_CHANNEL,
        function: lathe_function!(l1_filter),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"l2-filter".as_ptr(),
        title: c"Filter L2 norm".as_ptr(),
        doc: c"Per output channel c (dimension 0): score_c = sqrt(sum w_c^2), over all elements of the channel.".as_ptr(),
        reference: c"Li et al., Pruning Filters for Efficient ConvNets, ICLR 2017".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE,
        granularity: LATHE_GRANULARITY_OUTPUT_CHANNEL,
        function: lathe_function!(l2_filter),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"fpgm".as_ptr(),
        title: c"Filter pruning via geometric median".as_ptr(),
        doc: c"Per output channel c: score_c = sum over the other filters j of ||w_c - w_j||_2. Filters near the geometric median are redundant (low score); those far from it are kept.".as_ptr(),
        reference: c"He et al., Filter Pruning via Geometric Median for Deep Convolutional Neural Networks Acceleration, CVPR 2019".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE,
        granularity: LATHE_GRANULARITY_OUTPUT_CHANNEL,
        function: lathe_function!(fpgm),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"taylor".as_ptr(),
        title: c"First-order Taylor importance".as_ptr(),
        doc: c"Per output channel c: score_c = (sum over the channel's elements of w * g)^2, g the loss gradient: the squared first-order estimate of the loss change when the channel is removed.".as_ptr(),
        reference: c"Molchanov et al., Importance Estimation for Neural Network Pruning, CVPR 2019".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE | LATHE_FLAG_NEEDS_GRADIENT,
        granularity: LATHE_GRANULARITY_OUTPUT_CHANNEL,
        function: lathe_function!(taylor),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"snip".as_ptr(),
        title: c"SNIP connection sensitivity".as_ptr(),
        doc: c"Element-wise connection sensitivity: score = |w * g|, g the loss gradient.".as_ptr(),
        reference: c"Lee et al., SNIP: Single-shot Network Pruning based on Connection Sensitivity, ICLR 2019".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE | LATHE_FLAG_NEEDS_GRADIENT,
        granularity: LATHE_GRANULARITY_ELEMENT,
        function: lathe_function!(snip),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"bn-scale".as_ptr(),
        title: c"Batch-norm scale (network slimming)".as_ptr(),
        doc: c"Per output channel c: score_c = |gamma_c|, the scale of the batch norm that follows the layer (aux, weight.shape[0] values).".as_ptr(),
        reference: c"Liu et al., Learning Efficient Convolutional Networks through Network Slimming, ICCV 2017".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE | LATHE_FLAG_NEEDS_AUX,
        granularity: LATHE_GRANULARITY_OUTPUT_CHANNEL,
        function: lathe_function!(bn_scale),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"random".as_ptr(),
        title: c"Random (baseline)".as_ptr(),
        doc: c"Element-wise uniform random scores in [0, 1): score_i = (x_i >> 40) * 2^-24, x_i the i-th output (row-major) of SplitMix64 seeded with `seed`. Deterministic for a given seed.".as_ptr(),
        reference: c"Random pruning baseline, e.g. Liu et al., Rethinking the Value of Network Pruning, ICLR 2019".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE,
        granularity: LATHE_GRANULARITY_ELEMENT,
        params: RANDOM_PARAMS.as_ptr(),
        param_count: RANDOM_PARAMS.len() as u32,
        function: lathe_function!(random),
        ..lathe_method::EMPTY
    },
    lathe_method {
        id: c"random-filter".as_ptr(),
        title: c"Random filters (baseline)".as_ptr(),
        doc: c"Per output channel c: score_c = (x_c >> 40) * 2^-24, x_c the c-th output of SplitMix64 seeded with `seed`: the structured pruning baseline.".as_ptr(),
        reference: c"Random channel pruning baseline, e.g. Liu et al., Rethinking the Value of Network Pruning, ICLR 2019".as_ptr(),
        kind: LATHE_KIND_CRITERION,
        flags: SAFE,
        granularity: LATHE_GRANULARITY_OUTPUT_CHANNEL,
        params: RANDOM_PARAMS.as_ptr(),
        param_count: RANDOM_PARAMS.len() as u32,
        function: lathe_function!(random_filter),
        ..lathe_method::EMPTY
    },
];

unsafe extern "C" fn init(host: *const lathe_host, registrar: *const lathe_registrar) -> lathe_status {
    // SAFETY: the host passes its table and a registrar valid during init.
    unsafe { register_all(host, registrar, &METHODS) }
}

// The module `lathe_plugin` shadows the struct of the same name, hence the full path.
static PLUGIN: lathe_plugin::lathe_plugin = lathe_plugin::lathe_plugin {
    head: lathe_head::of::<lathe_plugin::lathe_plugin>(),
    name: c"prune".as_ptr(),
    version: c"1.0.0".as_ptr(),
    description: c"Pruning criteria: magnitude, L1/L2 filter norm, FPGM, Taylor, SNIP, BN scale, random (element and filter)".as_ptr(),
    init: Some(init),
    deinit: None,
};

/// The plugin's entry point (LATHE_ENTRY_SYMBOL).
#[no_mangle]
pub extern "C" fn lathe_plugin_entry() -> *const lathe_plugin::lathe_plugin {
    &PLUGIN
}
