//! `prune` — Lathe's first-party pruning criteria, written in Rust against the plugin SDK
//! (`Sources/CLathePlugin/include/lathe_plugin.h`, ABI 1.0, through its Rust bindings
//! `Sources/CLathePlugin/rust/lathe_plugin.rs`).
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

use lathe_plugin::*;

// ---------------------------------------------------------------------------------------------
// Shared validation
// ---------------------------------------------------------------------------------------------

/// What a criterion needs besides the weight.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Gradient,
    Aux,
}

/// The validated inputs of one criterion call.
struct Inputs<'a> {
    /// The weight's shape (at least one dimension).
    shape: &'a [i64],
    weight: &'a [f32],
    /// Same length as `weight` if the criterion needs the gradient, else empty.
    gradient: &'a [f32],
    /// `shape[0]` values if the criterion needs aux, else empty.
    aux: &'a [f32],
}

impl Inputs<'_> {
    /// Number of output channels (dimension 0).
    fn channels(&self) -> usize {
        self.shape[0] as usize
    }

    /// Elements per output channel.
    fn per_channel(&self) -> usize {
        match self.channels() {
            0 => 0,
            c => self.weight.len() / c,
        }
    }

    /// The elements of output channel `c` of `data` (the weight or the gradient).
    fn channel<'s>(&self, data: &'s [f32], c: usize) -> &'s [f32] {
        let n = self.per_channel();
        &data[c * n..(c + 1) * n]
    }
}

fn overlaps(a: &[f32], b: &[f32]) -> bool {
    let (a0, a1) = (a.as_ptr() as usize, a.as_ptr() as usize + std::mem::size_of_val(a));
    let (b0, b1) = (b.as_ptr() as usize, b.as_ptr() as usize + std::mem::size_of_val(b));
    !a.is_empty() && !b.is_empty() && a0 < b1 && b0 < a1
}

fn check_finite(values: &[f32], what: &str) -> Result<(), Failure> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Failure::invalid(format!("{what}: element {i} is not finite ({})", values[i]))),
    }
}

/// Validates a criterion call's tensors, runs `body` on them, and checks its scores are finite.
/// Everything runs under `guard`, so failures and panics are reported and turned into a status.
///
/// # Safety
/// The pointers must be those the host passed to the method.
#[allow(clippy::too_many_arguments)]
unsafe fn criterion(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
    granularity: lathe_granularity,
    needs: Needs,
    body: impl FnOnce(&Inputs, &mut [f32]) -> Result<(), Failure>,
) -> lathe_status {
    // SAFETY: the host passes tensors valid for the duration of the call, and an output
    // (`scores`) that does not alias the inputs (checked below before it is written).
    unsafe {
        guard(call, || {
            let shape = shape(weight, "weight")?;
            let w = f32_slice(weight, "weight")?;
            if shape.is_empty() {
                return Err(Failure::invalid("weight: expected at least one dimension, got a 0-d tensor"));
            }
            check_finite(w, "weight")?;
            let channels = shape[0] as usize;

            let g: &[f32] = if needs == Needs::Gradient {
                if gradient.is_null() {
                    return Err(Failure::invalid("gradient: NULL, but this criterion needs the loss gradient"));
                }
                let g_shape = lathe_plugin::shape(gradient, "gradient")?;
                if g_shape != shape {
                    return Err(Failure::invalid(format!("gradient: shape {g_shape:?} differs from the weight's {shape:?}")));
                }
                let g = f32_slice(gradient, "gradient")?;
                check_finite(g, "gradient")?;
                g
            } else {
                &[]
            };

            let a: &[f32] = if needs == Needs::Aux {
                if aux.is_null() {
                    return Err(Failure::invalid("aux: NULL, but this criterion needs the following batch norm's scale"));
                }
                let a = f32_slice(aux, "aux")?;
                if a.len() != channels {
                    return Err(Failure::invalid(format!(
                        "aux: expected {channels} values (one per output channel, weight.shape[0]), got {}",
                        a.len()
                    )));
                }
                check_finite(a, "aux")?;
                a
            } else {
                &[]
            };

            let s_shape = lathe_plugin::shape(scores, "scores")?;
            let expected: Vec<i64> = match granularity {
                LATHE_GRANULARITY_OUTPUT_CHANNEL => vec![shape[0]],
                _ => shape.to_vec(),
            };
            if s_shape != expected.as_slice() {
                return Err(Failure::invalid(format!("scores: expected shape {expected:?}, got {s_shape:?}")));
            }
            // Check for aliasing through a shared view before taking the mutable one.
            let s = f32_slice(scores, "scores")?;
            if overlaps(s, w) || overlaps(s, g) || overlaps(s, a) {
                return Err(Failure::invalid("scores: the output overlaps an input"));
            }
            let s = f32_slice_mut(scores, "scores")?;

            let inputs = Inputs { shape, weight: w, gradient: g, aux: a };
            body(&inputs, s)?;

            match s.iter().position(|v| !v.is_finite()) {
                None => Ok(()),
                Some(i) => Err(Failure::error(format!(
                    "score {i} is not finite ({}): the inputs are too large for float32 scores",
                    s[i]
                ))),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The criteria
// ---------------------------------------------------------------------------------------------

unsafe extern "C" fn magnitude(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_ELEMENT, Needs::Nothing, |x, s| {
            for (s, w) in s.iter_mut().zip(x.weight) {
                *s = w.abs();
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn l1_filter(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_OUTPUT_CHANNEL, Needs::Nothing, |x, s| {
            for (c, s) in s.iter_mut().enumerate() {
                *s = x.channel(x.weight, c).iter().map(|&w| f64::from(w).abs()).sum::<f64>() as f32;
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn l2_filter(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_OUTPUT_CHANNEL, Needs::Nothing, |x, s| {
            for (c, s) in s.iter_mut().enumerate() {
                let sum: f64 = x.channel(x.weight, c).iter().map(|&w| f64::from(w) * f64::from(w)).sum();
                *s = sum.sqrt() as f32;
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn fpgm(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_OUTPUT_CHANNEL, Needs::Nothing, |x, s| {
            let n = x.channels();
            let mut total = vec![0.0f64; n];
            for i in 0..n {
                let wi = x.channel(x.weight, i);
                for j in i + 1..n {
                    let wj = x.channel(x.weight, j);
                    let d2: f64 = wi.iter().zip(wj).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
                    let d = d2.sqrt();
                    total[i] += d;
                    total[j] += d;
                }
            }
            for (s, t) in s.iter_mut().zip(&total) {
                *s = *t as f32;
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn taylor(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_OUTPUT_CHANNEL, Needs::Gradient, |x, s| {
            for (c, s) in s.iter_mut().enumerate() {
                let w = x.channel(x.weight, c);
                let g = x.channel(x.gradient, c);
                let dot: f64 = w.iter().zip(g).map(|(&w, &g)| f64::from(w) * f64::from(g)).sum();
                *s = (dot * dot) as f32;
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn snip(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_ELEMENT, Needs::Gradient, |x, s| {
            for ((s, &w), &g) in s.iter_mut().zip(x.weight).zip(x.gradient) {
                *s = (f64::from(w) * f64::from(g)).abs() as f32;
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn bn_scale(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_OUTPUT_CHANNEL, Needs::Aux, |x, s| {
            for (s, a) in s.iter_mut().zip(x.aux) {
                *s = a.abs();
            }
            Ok(())
        })
    }
}

/// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): advances `state` and returns the next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const MAX_SEED: i64 = (1 << 31) - 1;

/// Uniform random scores from SplitMix64(`seed`), one per element of `s`.
fn random_scores(s: &mut [f32], seed: i64) -> Result<(), Failure> {
    if !(0..=MAX_SEED).contains(&seed) {
        return Err(Failure::invalid(format!("seed: {seed} is outside 0...{MAX_SEED}")));
    }
    let mut state = seed as u64;
    for s in s.iter_mut() {
        // The top 24 bits, scaled by 2^-24: exactly representable, in [0, 1).
        *s = (splitmix64(&mut state) >> 40) as f32 * (1.0 / 16_777_216.0);
    }
    Ok(())
}

unsafe extern "C" fn random(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
    seed: i64,
) -> lathe_status {
    unsafe { criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_ELEMENT, Needs::Nothing, |_, s| random_scores(s, seed)) }
}

/// The channel-level random baseline: one uniform score per output channel.
unsafe extern "C" fn random_filter(
    call: *mut lathe_call,
    weight: *const DLTensor,
    gradient: *const DLTensor,
    aux: *const DLTensor,
    scores: *mut DLTensor,
    seed: i64,
) -> lathe_status {
    unsafe {
        criterion(call, weight, gradient, aux, scores, LATHE_GRANULARITY_OUTPUT_CHANNEL, Needs::Nothing, |_, s| random_scores(s, seed))
    }
}

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
