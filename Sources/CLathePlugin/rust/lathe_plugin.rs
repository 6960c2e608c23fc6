//! Rust bindings of `lathe_plugin.h`, the Lathe plugin SDK (ABI 1.3). SPDX-License-Identifier: MIT
//!
//! This one file is the whole Rust SDK: it depends on nothing but `core`/`std` (no crates, no
//! bindgen), and it mirrors the C header field for field, so everything the header says about
//! loading, versioning, threading, ownership and errors holds here too. Read the header's
//! comments for the contract; this file adds only the types and a few safe helpers.
//!
//! # Using it
//!
//! Copy this file into your crate's `src/` and declare `mod lathe_plugin;`, or include it in
//! place with `#[path = ".../lathe_plugin.rs"] mod lathe_plugin;`. Build a `cdylib` with plain
//! rustc (Rust 1.77 or newer; do not use `-C panic=abort`, the [`guard`] relies on unwinding):
//!
//! ```text
//! rustc --edition 2021 --crate-type cdylib -C opt-level=3 -o libmyplugin.so src/lib.rs
//! ```
//!
//! A minimal plugin with one element-wise pruning criterion:
//!
//! ```ignore
//! mod lathe_plugin;
//! use lathe_plugin::*;
//!
//! unsafe extern "C" fn magnitude(call: *mut lathe_call, weight: *const DLTensor,
//!                                _gradient: *const DLTensor, _aux: *const DLTensor,
//!                                scores: *mut DLTensor) -> i32 {
//!     // SAFETY: the host passes valid tensors that outlive the call.
//!     unsafe {
//!         guard(call, || {
//!             let w = f32_slice(weight, "weight")?;
//!             let s = f32_slice_mut(scores, "scores")?;
//!             if s.len() != w.len() { return Err(Failure::invalid("scores: wrong size")); }
//!             for (s, w) in s.iter_mut().zip(w) { *s = w.abs(); }
//!             Ok(())
//!         })
//!     }
//! }
//!
//! static METHODS: [lathe_method; 1] = [lathe_method {
//!     id: c"magnitude".as_ptr(),
//!     title: c"Weight magnitude".as_ptr(),
//!     kind: LATHE_KIND_CRITERION,
//!     flags: LATHE_FLAG_THREAD_SAFE | LATHE_FLAG_DETERMINISTIC,
//!     granularity: LATHE_GRANULARITY_ELEMENT,
//!     function: lathe_function!(magnitude),
//!     ..lathe_method::EMPTY
//! }];
//!
//! unsafe extern "C" fn init(host: *const lathe_host, registrar: *const lathe_registrar) -> i32 {
//!     unsafe { register_all(host, registrar, &METHODS) }
//! }
//!
//! // The module `lathe_plugin` shadows the struct of the same name: spell out its path.
//! static PLUGIN: lathe_plugin::lathe_plugin = lathe_plugin::lathe_plugin {
//!     head: lathe_head::of::<lathe_plugin::lathe_plugin>(),
//!     name: c"myplugin".as_ptr(),
//!     version: c"0.1.0".as_ptr(),
//!     description: core::ptr::null(),
//!     init: Some(init),
//!     deinit: None,
//! };
//!
//! #[no_mangle]
//! pub extern "C" fn lathe_plugin_entry() -> *const lathe_plugin::lathe_plugin { &PLUGIN }
//! ```
//!
//! # Conventions of this translation
//!
//! - C enums (`lathe_status`, `lathe_kind`, ...) are `i32` constants, because the structs and
//!   function signatures carry them as `int32_t`; flag bits are `u32`.
//! - Every C function pointer is an `Option<unsafe extern "C" fn ...>` (`None` = `NULL`).
//! - `lathe_param.type` is spelled `type_` (`type` is a Rust keyword).
//! - `lathe_function` (a method's entry, whose real signature depends on its kind and
//!   hyperparameters) is erased with the [`lathe_function!`] macro.
//! - Descriptor structs hold raw pointers, so Rust does not consider them `Sync`; this file
//!   declares `lathe_param`, `lathe_method` and `lathe_plugin` `Sync` so they can be `static`
//!   (they are only ever read). For other static data with pointers (e.g. an enum parameter's
//!   `choices` array) wrap it in [`Static`].
//! - Method functions are called through libffi with plain C values: `int32_t` -> `i32`,
//!   `int64_t` -> `i64`, `float` -> `f32`, `double` -> `f64`, `bool` -> `bool`.
//! - A plugin must not read host struct fields beyond the `head.size` the host declared; the
//!   helpers here ([`report_error`], [`report_qparams`], [`scratch`], [`log`], [`state`],
//!   [`report_metric`]) check that. The fields added in 1.1 (marked \[1.1\]) may be missing from
//!   an older host's shorter structs: read the call's through the accessors [`call_layer`],
//!   [`call_role`], [`call_axis`], [`call_training`], [`call_learnables`],
//!   [`call_learnable_outputs`], [`call_samples`] (the Rust counterparts of C's
//!   `LATHE_HAS_FIELD`), which give the documented defaults then. Likewise the fields added in
//!   1.2 (marked \[1.2\]): the calibration statistics, missing from a 1.0 or 1.1 host's call
//!   ([`call_input_abs_max`], [`call_input_mean_square`], [`call_input_gram`],
//!   [`call_calibration_rows`] give `None` then), and the host's `report_metric`, missing from a
//!   1.0 or 1.1 host's table ([`report_metric`] gives `None` then). The 1.3 field
//!   `input_abs_mean` is read through [`call_input_abs_mean`] (`None` from an older host).

#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code)]

use core::ffi::{c_char, c_int, c_void};
use core::mem::{offset_of, size_of};
use std::ffi::CString;

// ---------------------------------------------------------------------------------------------
// DLPack 0.6 (exactly as <dlpack/dlpack.h>, DLPACK_VERSION 60)
// ---------------------------------------------------------------------------------------------

/// `DLDeviceType` (a C enum, carried as a 32-bit integer).
pub type DLDeviceType = u32;
pub const kDLCPU: DLDeviceType = 1;
pub const kDLCUDA: DLDeviceType = 2;
pub const kDLCUDAHost: DLDeviceType = 3;
pub const kDLOpenCL: DLDeviceType = 4;
pub const kDLVulkan: DLDeviceType = 7;
pub const kDLMetal: DLDeviceType = 8;
pub const kDLVPI: DLDeviceType = 9;
pub const kDLROCM: DLDeviceType = 10;
pub const kDLROCMHost: DLDeviceType = 11;
pub const kDLExtDev: DLDeviceType = 12;
pub const kDLCUDAManaged: DLDeviceType = 13;

/// `DLDataTypeCode` values, as stored in [`DLDataType::code`].
pub const kDLInt: u8 = 0;
pub const kDLUInt: u8 = 1;
pub const kDLFloat: u8 = 2;
pub const kDLOpaqueHandle: u8 = 3;
pub const kDLBfloat: u8 = 4;
pub const kDLComplex: u8 = 5;

/// A device: type and index (0 for CPU memory).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDevice {
    pub device_type: DLDeviceType,
    pub device_id: c_int,
}

/// Element type: code (`kDLFloat`, ...), bits per lane, lanes (1 for scalars).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

/// A borrowed tensor (DLPack 0.6). Shapes and strides are in elements; `strides` may be NULL.
#[repr(C)]
#[derive(Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: c_int,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

pub const LATHE_ABI_MAJOR: u16 = 1;
pub const LATHE_ABI_MINOR: u16 = 3;

/// The one symbol a plugin exports: `const lathe_plugin *lathe_plugin_entry(void)`.
pub const LATHE_ENTRY_SYMBOL: &str = "lathe_plugin_entry";

/// `lathe_status`: returned by every plugin function.
pub type lathe_status = i32;
pub const LATHE_OK: lathe_status = 0;
/// Any failure; details through `report_error`.
pub const LATHE_ERROR: lathe_status = 1;
/// An input or hyperparameter the method cannot handle.
pub const LATHE_INVALID_ARGUMENT: lathe_status = 2;
/// A shape, dtype or layout the method does not support.
pub const LATHE_UNSUPPORTED: lathe_status = 3;
pub const LATHE_NO_MEMORY: lathe_status = 4;

/// `lathe_kind`: the kinds of method. Each kind's calling convention (the fixed leading arguments
/// of its function) is in the header's "Calling conventions".
pub type lathe_kind = i32;
pub const LATHE_KIND_QUANTIZER: lathe_kind = 1;
pub const LATHE_KIND_CRITERION: lathe_kind = 2;
pub const LATHE_KIND_LOSS: lathe_kind = 3;
/// \[1.2\] A layer solver: the weight and the layer's input statistics -> W' (GPTQ, SparseGPT):
/// `unsafe extern "C" fn(call: *mut lathe_call, weight: *const DLTensor, new_weight: *mut DLTensor,
/// mask: *mut DLTensor, ...hyperparameters) -> i32`. `weight` is the layer's weight in its own
/// shape (view it as \[out, D\]); `new_weight` (W', the same shape) must be written completely. A
/// solver that declares [`LATHE_FLAG_SOLVER_PRUNES`] also writes `mask` (the weight's shape): 1
/// where the weight is kept, 0 where it is pruned, and W' is 0 wherever the mask is; otherwise
/// `mask` is NULL and the solver quantizes: it reports W''s grid once with [`report_qparams`]
/// (scheme AFFINE or SYMMETRIC, axis 0, per row or with `group_size`), and every element of W'
/// must lie on that grid, W' = (q - z)·s with q an integer in \[qmin, qmax\] (the host checks to
/// within 1e-5·s plus four float32 ulps of the element, and refuses the call otherwise). The host
/// calls a solver once per layer in network order, each time with the statistics of the layer's
/// input taken through the layers already solved, and replaces the layer's weight with W' (and
/// applies the mask) before it moves to the next layer; `call->layer` names the layer,
/// `call->role` is [`LATHE_ROLE_WEIGHT`], `call->axis` 0. A method declaring ABI 1.0 or 1.1 may
/// not be a solver.
pub const LATHE_KIND_SOLVER: lathe_kind = 4;
/// \[1.3\] A channel scaler: the weight and the layer's input statistics -> one positive scale
/// per input channel (SmoothQuant, AWQ): `unsafe extern "C" fn(call: *mut lathe_call, weight:
/// *const DLTensor, scales: *mut DLTensor, ...hyperparameters) -> i32`. `scales` is \[G, C\] (G
/// as in the statistics, C the input channels per group: a linear layer's `in`, a conv's `in/G`);
/// statistic feature j of group g belongs to channel j / K, K = D / C. Every scale must be finite
/// and > 0. The host multiplies W's columns by s and divides the layer's input by s (folded into
/// the op before where the graph allows, else an explicit scale), and may call a scaler several
/// times per layer with different hyperparameters (a grid search). A method declaring ABI 1.0 to
/// 1.2 may not be a scaler.
pub const LATHE_KIND_SCALER: lathe_kind = 5;
/// \[1.3\] A factorizer: the weight (viewed as \[out, D\], K = min(out, D)) -> A·B of a rank it
/// chooses: `unsafe extern "C" fn(call: *mut lathe_call, weight: *const DLTensor, a: *mut
/// DLTensor, b: *mut DLTensor, ...hyperparameters) -> i32`, `a` \[out, K\] and `b` \[K, D\]. It
/// reports the rank r once with [`report_metric`] as "rank" (required), writes W ≈ a\[:, :r\]·b\[:r, :\],
/// and writes the rest too (zeros). The host replaces the layer by two (linear -> linear, or a
/// k×k conv with r filters -> a 1×1 conv carrying the bias). A method declaring ABI 1.0 to 1.2
/// may not be a factorizer.
pub const LATHE_KIND_FACTORIZER: lathe_kind = 6;

/// `lathe_param_type`: hyperparameter types (the Rust type each is passed as in brackets).
pub type lathe_param_type = i32;
/// `i32`
pub const LATHE_PARAM_I32: lathe_param_type = 1;
/// `i64`
pub const LATHE_PARAM_I64: lathe_param_type = 2;
/// `f32`
pub const LATHE_PARAM_F32: lathe_param_type = 3;
/// `f64`
pub const LATHE_PARAM_F64: lathe_param_type = 4;
/// `bool` (C99 `_Bool`, one byte)
pub const LATHE_PARAM_BOOL: lathe_param_type = 5;
/// `i32`: the index of the chosen name in `choices`
pub const LATHE_PARAM_ENUM: lathe_param_type = 6;

/// Capability flags (bits of `lathe_method.flags`). Unknown bits are refused by the host.
pub const LATHE_FLAG_THREAD_SAFE: u32 = 1 << 0;
pub const LATHE_FLAG_DETERMINISTIC: u32 = 1 << 1;
/// Criterion: needs the loss gradient w.r.t. the weight.
pub const LATHE_FLAG_NEEDS_GRADIENT: u32 = 1 << 2;
/// Criterion: needs the auxiliary tensor (e.g. the following batch norm's scale).
pub const LATHE_FLAG_NEEDS_AUX: u32 = 1 << 3;
/// \[1.2\] Criterion or solver: needs `call->input_abs_max`, the layer input's per-column max |x|
/// (see the header's "Calibration statistics"). A method declaring ABI 1.0 or 1.1 may not set
/// bits 4-7.
pub const LATHE_FLAG_NEEDS_INPUT_ABS_MAX: u32 = 1 << 4;
/// \[1.2\] Criterion or solver: needs `call->input_mean_square`, the layer input's per-column mean
/// of x².
pub const LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE: u32 = 1 << 5;
/// \[1.2\] Criterion or solver: needs `call->input_gram`, the layer input's Gram matrix XᵀX / n.
pub const LATHE_FLAG_NEEDS_INPUT_GRAM: u32 = 1 << 6;
/// \[1.2\] Solver: writes a mask (prunes) instead of reporting quantization parameters (see
/// [`LATHE_KIND_SOLVER`]).
pub const LATHE_FLAG_SOLVER_PRUNES: u32 = 1 << 7;
/// \[1.3\] Criterion, solver or scaler: needs `call->input_abs_mean`, the layer input's per-column
/// mean |x|. A method declaring ABI 1.0 to 1.2 may not set it.
pub const LATHE_FLAG_NEEDS_INPUT_ABS_MEAN: u32 = 1 << 8;
/// Every flag bit of this SDK (ABI 1.0 and 1.1 know 0xF, 1.2 knows 0xFF).
pub const LATHE_FLAGS_KNOWN: u32 = 0x1FF;

/// `lathe_granularity`: granularity of a pruning criterion's scores.
pub type lathe_granularity = i32;
/// Quantizers and losses.
pub const LATHE_GRANULARITY_NONE: lathe_granularity = 0;
/// One score per weight element.
pub const LATHE_GRANULARITY_ELEMENT: lathe_granularity = 1;
/// One score per output channel (dimension 0).
pub const LATHE_GRANULARITY_OUTPUT_CHANNEL: lathe_granularity = 2;

/// `lathe_loss_category`: category of a distillation loss.
pub type lathe_loss_category = i32;
/// Quantizers and criteria.
pub const LATHE_LOSS_NONE: lathe_loss_category = 0;
/// Logits: student [B, K], teacher [B, K].
pub const LATHE_LOSS_RESPONSE: lathe_loss_category = 1;
/// Feature maps of equal shape [B, ...].
pub const LATHE_LOSS_FEATURE: lathe_loss_category = 2;
/// Per-sample representations [B, ...]; trailing shapes may differ.
pub const LATHE_LOSS_RELATION: lathe_loss_category = 3;

/// `lathe_qscheme`: quantization scheme reported in `lathe_qparams.scheme`.
pub type lathe_qscheme = i32;
/// q = clamp(round(x/scale) + zero_point, qmin, qmax)
pub const LATHE_QSCHEME_AFFINE: lathe_qscheme = 1;
/// Affine with zero_point 0.
pub const LATHE_QSCHEME_SYMMETRIC: lathe_qscheme = 2;
/// x -> scale * sign(x); bits = 1
pub const LATHE_QSCHEME_BINARY: lathe_qscheme = 3;
/// x -> scale * {-1, 0, 1}; bits = 2
pub const LATHE_QSCHEME_TERNARY: lathe_qscheme = 4;
/// x -> sign(x) * 2^k, k in a range of 2^(bits-1) exponents
pub const LATHE_QSCHEME_POWER_OF_TWO: lathe_qscheme = 5;
/// x -> codebook\[index\]; bits = log2(codebook size)
pub const LATHE_QSCHEME_CODEBOOK: lathe_qscheme = 6;
/// \[1.1\] x -> scale * e(x / scale), e() rounding to `element_format` (nearest, ties to even,
/// saturating); bits = the format's width.
pub const LATHE_QSCHEME_MINIFLOAT: lathe_qscheme = 7;

/// \[1.1\] `lathe_element_format`: element format of a MINIFLOAT scheme.
pub type lathe_element_format = i32;
/// Integers (every scheme but MINIFLOAT).
pub const LATHE_ELEMENT_INT: lathe_element_format = 0;
/// 8 bits: bias 7, max 448, no infinities, S.1111.111 NaN.
pub const LATHE_ELEMENT_FP8_E4M3: lathe_element_format = 1;
/// 8 bits: bias 15, max 57344, IEEE-like inf/NaN.
pub const LATHE_ELEMENT_FP8_E5M2: lathe_element_format = 2;
/// 6 bits: max 7.5, no inf/NaN.
pub const LATHE_ELEMENT_FP6_E2M3: lathe_element_format = 3;
/// 6 bits: max 28, no inf/NaN.
pub const LATHE_ELEMENT_FP6_E3M2: lathe_element_format = 4;
/// 4 bits: values 0, 0.5, 1, 1.5, 2, 3, 4, 6, no inf/NaN.
pub const LATHE_ELEMENT_FP4_E2M1: lathe_element_format = 5;

/// \[1.1\] `lathe_scale_format`: how the scales are stored in the deployed format.
pub type lathe_scale_format = i32;
/// 4 bytes each (the 1.0 assumption).
pub const LATHE_SCALE_FP32: lathe_scale_format = 0;
/// 2 bytes; the reported scales must be exactly representable.
pub const LATHE_SCALE_FP16: lathe_scale_format = 1;
/// 2 bytes; likewise.
pub const LATHE_SCALE_BF16: lathe_scale_format = 2;
/// 1 byte, a power of two 2^-127..2^127 (OCP MX shared scale).
pub const LATHE_SCALE_E8M0: lathe_scale_format = 3;

/// \[1.1\] `lathe_role`: what the tensor a call is about is.
pub type lathe_role = i32;
/// Not said (conformance checks, 1.0-style calls).
pub const LATHE_ROLE_NONE: lathe_role = 0;
/// A layer's weight.
pub const LATHE_ROLE_WEIGHT: lathe_role = 1;
/// A layer's input activation.
pub const LATHE_ROLE_ACTIVATION: lathe_role = 2;
/// An intermediate feature (feature and relation losses).
pub const LATHE_ROLE_FEATURE: lathe_role = 3;
/// The network's output (response losses).
pub const LATHE_ROLE_LOGITS: lathe_role = 4;

/// \[1.1\] `lathe_shape_rule`: how the host shapes a learnable tensor. `size_param` names an I32 or
/// I64 hyperparameter giving a size (G or E below).
pub type lathe_shape_rule = i32;
/// \[1\]
pub const LATHE_SHAPE_SCALAR: lathe_shape_rule = 1;
/// \[C\]: C = input.shape\[call->axis\] (\[1\] if axis is -1).
pub const LATHE_SHAPE_PER_CHANNEL: lathe_shape_rule = 2;
/// \[shape\[0\], ceil(row / G)\]: row = elements / shape\[0\].
pub const LATHE_SHAPE_PER_GROUP: lathe_shape_rule = 3;
/// \[E\]
pub const LATHE_SHAPE_VECTOR: lathe_shape_rule = 4;
/// Losses: \[E, student elements per sample\].
pub const LATHE_SHAPE_STUDENT_PROJECTION: lathe_shape_rule = 5;
/// Losses: \[E, teacher elements per sample\].
pub const LATHE_SHAPE_TEACHER_PROJECTION: lathe_shape_rule = 6;

/// \[1.1\] Most learnables a method may declare.
pub const LATHE_MAX_LEARNABLES: u32 = 8;

/// \[1.1\] The largest state buffer a method instance may hold: 1 GiB.
pub const LATHE_STATE_MAX_BYTES: usize = 1 << 30;

// ---------------------------------------------------------------------------------------------
// Structs
// ---------------------------------------------------------------------------------------------

/// First member of every struct: the ABI version and the struct's size as its writer compiled it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct lathe_head {
    pub abi_major: u16,
    pub abi_minor: u16,
    pub size: u32,
}

impl lathe_head {
    /// The head of a struct of type `T` written by this plugin (C: `LATHE_HEAD(T)`).
    pub const fn of<T>() -> lathe_head {
        lathe_head { abi_major: LATHE_ABI_MAJOR, abi_minor: LATHE_ABI_MINOR, size: size_of::<T>() as u32 }
    }
}

/// One hyperparameter of a method.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lathe_param {
    pub head: lathe_head,
    /// `[a-z][a-z0-9_]*`, unique within the method.
    pub name: *const c_char,
    /// `lathe_param_type`.
    pub type_: i32,
    /// One line; may be NULL.
    pub doc: *const c_char,
    /// Numbers: the value; bool: 0 or 1; enum: the index.
    pub default_value: f64,
    /// Inclusive; numbers only.
    pub min_value: f64,
    /// Inclusive; numbers only.
    pub max_value: f64,
    /// Enum only: the names, `[a-z0-9_-]+`.
    pub choices: *const *const c_char,
    /// Enum only: at least 1.
    pub choice_count: u32,
}

impl lathe_param {
    /// A parameter with every pointer NULL and every number 0, for `..lathe_param::EMPTY`.
    pub const EMPTY: lathe_param = lathe_param {
        head: lathe_head::of::<lathe_param>(),
        name: core::ptr::null(),
        type_: 0,
        doc: core::ptr::null(),
        default_value: 0.0,
        min_value: 0.0,
        max_value: 0.0,
        choices: core::ptr::null(),
        choice_count: 0,
    };
}

/// Quantization parameters a quantizer reports for the tensor it just quantized.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lathe_qparams {
    pub head: lathe_head,
    /// `lathe_qscheme`.
    pub scheme: i32,
    /// Bits per element, 1..16.
    pub bits: i32,
    /// Channel axis of per-channel parameters, or -1 for per-tensor.
    pub axis: i32,
    /// Integer range (affine/symmetric); 0 otherwise.
    pub qmin: i32,
    pub qmax: i32,
    /// Number of scales (and zero points): 1, or the axis' size.
    pub count: u32,
    /// `count` scales; may be NULL for codebook and power-of-two.
    pub scales: *const f32,
    /// `count` zero points; NULL means all 0.
    pub zero_points: *const i32,
    /// Codebook scheme: the centroids; NULL otherwise.
    pub codebook: *const f32,
    pub codebook_size: u32,
    /// \[1.1\] 0: per tensor / per channel as `axis` says. > 0: one scale per group of
    /// `group_size` consecutive elements of a row (everything after dimension 0 flattened);
    /// `axis` is 0 and `count` is shape\[0\] * ceil(row / group_size), row-major.
    pub group_size: i32,
    /// \[1.1\] `lathe_element_format`; INT for every scheme but MINIFLOAT.
    pub element_format: i32,
    /// \[1.1\] `lathe_scale_format`.
    pub scale_format: i32,
}

impl lathe_qparams {
    /// Qparams with every pointer NULL, `axis` -1 (per tensor) and every other number 0, for
    /// `..lathe_qparams::EMPTY`.
    pub const EMPTY: lathe_qparams = lathe_qparams {
        head: lathe_head::of::<lathe_qparams>(),
        scheme: 0,
        bits: 0,
        axis: -1,
        qmin: 0,
        qmax: 0,
        count: 0,
        scales: core::ptr::null(),
        zero_points: core::ptr::null(),
        codebook: core::ptr::null(),
        codebook_size: 0,
        group_size: 0,
        element_format: LATHE_ELEMENT_INT,
        scale_format: LATHE_SCALE_FP32,
    };
}

/// The context of one method call, passed as the first argument. Host-owned; valid for the call.
/// Fields marked \[1.1\] and \[1.2\] exist only when the host declared a large enough
/// `head.size`: read them through the `call_*` accessors, which check that.
#[repr(C)]
#[derive(Debug)]
pub struct lathe_call {
    pub head: lathe_head,
    /// The host table.
    pub host: *const lathe_host,
    /// The host's; do not touch.
    pub host_private: *mut c_void,
    /// \[1.1\] The layer's name (e.g. "conv2"), or "" when the call is not about one layer.
    pub layer: *const c_char,
    /// \[1.1\] `lathe_role` of the (first) input.
    pub role: i32,
    /// \[1.1\] The channel axis the host wants per-channel parameters on: 0 for weights, 1 for
    /// NC.. activations; -1 per tensor.
    pub axis: i32,
    /// \[1.1\] Optimizer step of this call, 0-based; -1 outside training.
    pub step: i64,
    /// \[1.1\] Optimizer steps the run will take; 0 outside training.
    pub total_steps: i64,
    /// \[1.1\] 0-based epoch; -1 outside training.
    pub epoch: i32,
    /// \[1.1\] 0 outside training.
    pub total_epochs: i32,
    /// \[1.1\] The method's declared learnable count; 0 when it declares none.
    pub learnable_count: u32,
    /// \[1.1\] Forward, backward, loss: the learnables' current values (read-only); NULL in
    /// init_learnables.
    pub learnables: *const *const DLTensor,
    /// \[1.1\] init_learnables: the initial values to write; backward and loss: the gradients to
    /// write (same shapes); NULL otherwise.
    pub learnable_outputs: *const *mut DLTensor,
    /// \[1.1\] Losses: batch-size indices into the training set, or NULL (checks, evaluation).
    pub sample_indices: *const i64,
    /// \[1.1\] Samples in the training set; 0 when `sample_indices` is NULL.
    pub dataset_size: i64,
    /// \[1.2\] \[G, D\]: max |x_j| over the calibration rows of the layer's input; non-NULL
    /// exactly when the method declares [`LATHE_FLAG_NEEDS_INPUT_ABS_MAX`] and the call is about
    /// one layer's weight. Read-only, valid for the call. Read it through [`call_input_abs_max`].
    pub input_abs_max: *const DLTensor,
    /// \[1.2\] \[G, D\]: Σ x_j² / n; non-NULL exactly when the method declares
    /// [`LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE`] (and as above). Read it through [`call_input_mean_square`].
    pub input_mean_square: *const DLTensor,
    /// \[1.2\] \[G, D, D\]: XᵀX / n (symmetric); non-NULL exactly when the method declares
    /// [`LATHE_FLAG_NEEDS_INPUT_GRAM`] (and as above). Read it through [`call_input_gram`].
    pub input_gram: *const DLTensor,
    /// \[1.2\] n, the rows the statistics are taken over; 0 without any. Read it through
    /// [`call_calibration_rows`].
    pub calibration_rows: i64,
    /// \[1.3\] \[G, D\]: Σ |x_j| / n; non-NULL exactly when the method declares
    /// [`LATHE_FLAG_NEEDS_INPUT_ABS_MEAN`] (and as above). Read it through [`call_input_abs_mean`].
    pub input_abs_mean: *const DLTensor,
}

/// Services the host offers. Valid from init until the process exits.
#[repr(C)]
#[derive(Debug)]
pub struct lathe_host {
    pub head: lathe_head,
    /// The host's; do not touch.
    pub host_private: *mut c_void,
    /// Log a line (level: 0 debug, 1 info, 2 warning, 3 error). [thread: any]
    pub log: Option<unsafe extern "C" fn(host: *const lathe_host, level: i32, message: *const c_char)>,
    /// Report why the current call fails (UTF-8, copied). At most once per call. [thread: any]
    pub report_error: Option<unsafe extern "C" fn(call: *mut lathe_call, message: *const c_char)>,
    /// Quantizers: report the parameters of the tensor just quantized (copied). [thread: any]
    pub report_qparams: Option<unsafe extern "C" fn(call: *mut lathe_call, qparams: *const lathe_qparams) -> i32>,
    /// Scratch memory for this call: 64-byte aligned, uninitialised, freed by the host. [thread: any]
    pub scratch: Option<unsafe extern "C" fn(call: *mut lathe_call, bytes: usize) -> *mut c_void>,
    /// \[1.1\] The persistent state buffer of this method instance for this run (64-byte aligned,
    /// zero-filled at first, kept and checkpointed by the host); the first request fixes the size.
    /// Read it through [`state`]. [thread: any]
    pub state: Option<unsafe extern "C" fn(call: *mut lathe_call, bytes: usize) -> *mut c_void>,
    /// \[1.2\] Record a named number about the current call (e.g. the damping a solver had to
    /// use, its reconstruction error) in the run's ledger, beside the layer the call is about.
    /// `name` is `[a-z][a-z0-9_]*`, at most 32 bytes; the value is finite; at most 16 per call;
    /// a later value of the same name replaces the earlier one. Returns LATHE_OK, or
    /// LATHE_INVALID_ARGUMENT (nothing recorded; the call may go on). Call it through
    /// [`report_metric`], which tests that the host has it. [thread: any]
    pub report_metric: Option<unsafe extern "C" fn(call: *mut lathe_call, name: *const c_char, value: f64) -> i32>,
}

/// A method's entry function, type-erased (C: `void (*)(void)`). Build one with [`lathe_function!`].
pub type lathe_function = Option<unsafe extern "C" fn()>;

/// Erases a method function's signature into a [`lathe_function`](type@lathe_function) (usable in a `static`).
///
/// The function must have exactly the C signature of its kind's calling convention followed by
/// its hyperparameters in declaration order (see `lathe_plugin.h`), e.g. for a criterion with one
/// `LATHE_PARAM_I64` hyperparameter:
/// `unsafe extern "C" fn(*mut lathe_call, *const DLTensor, *const DLTensor, *const DLTensor,
/// *mut DLTensor, i64) -> i32`, and for a \[1.2\] solver ([`LATHE_KIND_SOLVER`]) with one
/// `LATHE_PARAM_I32`: `unsafe extern "C" fn(*mut lathe_call, *const DLTensor, *mut DLTensor,
/// *mut DLTensor, i32) -> i32` (weight, new_weight, mask). Nothing checks this: a mismatch is
/// undefined behaviour.
#[macro_export]
macro_rules! lathe_function {
    ($f:expr) => {{
        let address = $f as *const ();
        // SAFETY: a function's address, reinterpreted as the C ABI's generic function pointer.
        Some(unsafe { ::core::mem::transmute::<*const (), unsafe extern "C" fn()>(address) })
    }};
}

/// A method's descriptor, passed to `register_method`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lathe_method {
    pub head: lathe_head,
    /// `[a-z][a-z0-9_.-]*`, unique within the plugin; the host namespaces it as "plugin/id".
    pub id: *const c_char,
    /// Human name, e.g. "Uniform affine quantizer".
    pub title: *const c_char,
    /// Formula and behaviour; may be NULL.
    pub doc: *const c_char,
    /// The paper, e.g. "Jacob et al., CVPR 2018"; may be NULL.
    pub reference: *const c_char,
    /// `lathe_kind`.
    pub kind: i32,
    /// `LATHE_FLAG_*`.
    pub flags: u32,
    /// Criteria: ELEMENT or OUTPUT_CHANNEL; others NONE.
    pub granularity: i32,
    /// Losses: RESPONSE, FEATURE or RELATION; others NONE.
    pub loss_category: i32,
    /// `param_count` hyperparameters, in argument order.
    pub params: *const lathe_param,
    /// At most 16.
    pub param_count: u32,
    /// The entry function, erased with [`lathe_function!`].
    pub function: lathe_function,
    /// \[1.1\] `learnable_count` declarations, or NULL.
    pub learnables: *const lathe_learnable,
    /// \[1.1\] At most [`LATHE_MAX_LEARNABLES`].
    pub learnable_count: u32,
    /// \[1.1\] Required when `learnable_count` > 0; `None` otherwise. Quantizer:
    /// `fn(call, input, ...hyperparameters) -> i32`; loss: `fn(call, student, teacher, ...) -> i32`.
    pub init_learnables: lathe_function,
    /// \[1.1\] Quantizers: required with learnables, optional without:
    /// `fn(call, input, grad_output, grad_input, ...hyperparameters) -> i32`.
    pub backward: lathe_function,
}

/// \[1.1\] One learnable tensor of a method.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lathe_learnable {
    pub head: lathe_head,
    /// `[a-z][a-z0-9_]*`, unique within the method.
    pub name: *const c_char,
    /// `lathe_shape_rule`; quantizers: SCALAR, PER_CHANNEL, PER_GROUP.
    pub shape_rule: i32,
    /// PER_GROUP, VECTOR, *_PROJECTION: an I32/I64 hyperparameter's name; else NULL.
    pub size_param: *const c_char,
    /// One line; may be NULL.
    pub doc: *const c_char,
}

impl lathe_learnable {
    /// A declaration with every pointer NULL, for `..lathe_learnable::EMPTY`.
    pub const EMPTY: lathe_learnable = lathe_learnable {
        head: lathe_head::of::<lathe_learnable>(),
        name: core::ptr::null(),
        shape_rule: 0,
        size_param: core::ptr::null(),
        doc: core::ptr::null(),
    };
}

impl lathe_method {
    /// A descriptor with every pointer NULL and every number 0, for `..lathe_method::EMPTY`.
    pub const EMPTY: lathe_method = lathe_method {
        head: lathe_head::of::<lathe_method>(),
        id: core::ptr::null(),
        title: core::ptr::null(),
        doc: core::ptr::null(),
        reference: core::ptr::null(),
        kind: 0,
        flags: 0,
        granularity: LATHE_GRANULARITY_NONE,
        loss_category: LATHE_LOSS_NONE,
        params: core::ptr::null(),
        param_count: 0,
        function: None,
        learnables: core::ptr::null(),
        learnable_count: 0,
        init_learnables: None,
        backward: None,
    };
}

/// Handed to init: registers methods. Valid only during init.
#[repr(C)]
#[derive(Debug)]
pub struct lathe_registrar {
    pub head: lathe_head,
    /// The host's; do not touch.
    pub host_private: *mut c_void,
    /// Register one method (copied). Returns LATHE_OK, or LATHE_INVALID_ARGUMENT with the reason
    /// logged if the descriptor is malformed or its id taken. [thread: main]
    pub register_method: Option<unsafe extern "C" fn(registrar: *const lathe_registrar, method: *const lathe_method) -> i32>,
}

/// The plugin's descriptor, returned by `lathe_plugin_entry()`. Static; never freed.
#[repr(C)]
#[derive(Debug)]
pub struct lathe_plugin {
    pub head: lathe_head,
    /// `[a-z][a-z0-9_-]*`; the namespace of the plugin's methods.
    pub name: *const c_char,
    /// The plugin's own version, e.g. "1.2.0".
    pub version: *const c_char,
    /// One line; may be NULL.
    pub description: *const c_char,
    /// Register methods. Return LATHE_OK, or fail (after report through host->log). [thread: main]
    pub init: Option<unsafe extern "C" fn(host: *const lathe_host, registrar: *const lathe_registrar) -> i32>,
    /// Release global resources; may be NULL. [thread: main]
    pub deinit: Option<unsafe extern "C" fn()>,
}

/// The entry point's type.
pub type lathe_entry_function = Option<unsafe extern "C" fn() -> *const lathe_plugin>;

// SAFETY: descriptors are immutable after construction and only point at immutable data
// (string literals, other static descriptors, functions), so sharing them between threads is fine.
unsafe impl Sync for lathe_param {}
unsafe impl Sync for lathe_method {}
unsafe impl Sync for lathe_learnable {}
unsafe impl Sync for lathe_plugin {}

/// Makes immutable data that contains raw pointers usable in a `static`, e.g. the `choices` of
/// an enum parameter: `static CHOICES: Static<[*const c_char; 2]> =
/// Static([c"nearest".as_ptr(), c"stochastic".as_ptr()]);` then `choices: CHOICES.0.as_ptr()`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct Static<T>(pub T);

// SAFETY: `Static` is meant for data that is never mutated and whose pointers point at
// immutable static data; the wrapper's user vouches for that.
unsafe impl<T> Sync for Static<T> {}

// Layout checks against the C header (x86-64/aarch64 LP64; lathe_plugin.c checks the C side).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<lathe_head>() == 8);
    assert!(size_of::<DLDevice>() == 8);
    assert!(size_of::<DLDataType>() == 4);
    assert!(size_of::<DLTensor>() == 48);
    assert!(offset_of!(DLTensor, shape) == 24);
    assert!(size_of::<lathe_param>() == 72);
    assert!(offset_of!(lathe_param, choice_count) == 64);
    assert!(size_of::<lathe_qparams>() == 72);
    assert!(offset_of!(lathe_qparams, scales) == 32);
    assert!(offset_of!(lathe_qparams, group_size) == 60);
    assert!(offset_of!(lathe_qparams, scale_format) == 68);
    assert!(size_of::<lathe_call>() == 144);
    assert!(offset_of!(lathe_call, layer) == 24);
    assert!(offset_of!(lathe_call, step) == 40);
    assert!(offset_of!(lathe_call, epoch) == 56);
    assert!(offset_of!(lathe_call, learnable_count) == 64);
    assert!(offset_of!(lathe_call, learnables) == 72);
    assert!(offset_of!(lathe_call, sample_indices) == 88);
    assert!(offset_of!(lathe_call, dataset_size) == 96);
    assert!(offset_of!(lathe_call, input_abs_max) == 104);
    assert!(offset_of!(lathe_call, input_mean_square) == 112);
    assert!(offset_of!(lathe_call, input_gram) == 120);
    assert!(offset_of!(lathe_call, calibration_rows) == 128);
    assert!(offset_of!(lathe_call, input_abs_mean) == 136);
    assert!(size_of::<lathe_host>() == 64);
    assert!(offset_of!(lathe_host, state) == 48);
    assert!(offset_of!(lathe_host, report_metric) == 56);
    assert!(size_of::<lathe_method>() == 112);
    assert!(offset_of!(lathe_method, kind) == 40);
    assert!(offset_of!(lathe_method, params) == 56);
    assert!(offset_of!(lathe_method, learnables) == 80);
    assert!(offset_of!(lathe_method, learnable_count) == 88);
    assert!(offset_of!(lathe_method, init_learnables) == 96);
    assert!(offset_of!(lathe_method, backward) == 104);
    assert!(size_of::<lathe_learnable>() == 40);
    assert!(offset_of!(lathe_learnable, size_param) == 24);
    assert!(size_of::<lathe_registrar>() == 24);
    assert!(size_of::<lathe_plugin>() == 48);
};

// ---------------------------------------------------------------------------------------------
// Errors and panics
// ---------------------------------------------------------------------------------------------

/// Why a method call fails: the status to return and the message to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// A `LATHE_*` status other than `LATHE_OK`.
    pub status: lathe_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: lathe_status, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into() }
    }
    /// `LATHE_INVALID_ARGUMENT`: an input or hyperparameter the method cannot handle.
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(LATHE_INVALID_ARGUMENT, message)
    }
    /// `LATHE_UNSUPPORTED`: a shape, dtype or layout the method does not support.
    pub fn unsupported(message: impl Into<String>) -> Failure {
        Failure::new(LATHE_UNSUPPORTED, message)
    }
    /// `LATHE_ERROR`: any other failure.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure::new(LATHE_ERROR, message)
    }
}

/// Whether a host struct of declared size `size` contains the field at `offset` of `len` bytes.
fn has_field(size: u32, offset: usize, len: usize) -> bool {
    offset + len <= size as usize
}

/// The host table of a call, if the call struct is present and declares it.
unsafe fn call_host<'a>(call: *mut lathe_call) -> Option<&'a lathe_host> {
    // SAFETY: the caller passes NULL or a valid call, whose host is NULL or valid.
    let c = unsafe { call.as_ref() }?;
    if !has_field(c.head.size, offset_of!(lathe_call, host), size_of::<*const lathe_host>()) {
        return None;
    }
    unsafe { c.host.as_ref() }
}

/// A NUL-terminated copy of `s` (interior NULs become `?`).
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

/// Reports why the current call fails through `call->host->report_error`. Call it at most once
/// per call ([`guard`] does it for you). Does nothing if the host lacks the function.
///
/// # Safety
/// `call` must be NULL or the `lathe_call` the host passed to the running method.
pub unsafe fn report_error(call: *mut lathe_call, message: &str) {
    let Some(host) = (unsafe { call_host(call) }) else { return };
    if !has_field(host.head.size, offset_of!(lathe_host, report_error), size_of::<usize>()) {
        return;
    }
    if let Some(f) = host.report_error {
        let text = c_string(message);
        unsafe { f(call, text.as_ptr()) };
    }
}

/// Reports a quantizer's parameters through `call->host->report_qparams` (call it once, before
/// returning LATHE_OK). The host copies them, so they may point at locals.
///
/// # Safety
/// `call` must be the `lathe_call` the host passed to the running method, and the pointers in
/// `qparams` must be valid for the counts it declares.
pub unsafe fn report_qparams(call: *mut lathe_call, qparams: &lathe_qparams) -> Result<(), Failure> {
    let host = unsafe { call_host(call) }.ok_or_else(|| Failure::error("the call has no host table"))?;
    if !has_field(host.head.size, offset_of!(lathe_host, report_qparams), size_of::<usize>()) {
        return Err(Failure::error("the host does not offer report_qparams"));
    }
    let f = host.report_qparams.ok_or_else(|| Failure::error("the host does not offer report_qparams"))?;
    match unsafe { f(call, qparams) } {
        LATHE_OK => Ok(()),
        status => Err(Failure::new(status, "the host refused the reported quantization parameters")),
    }
}

/// Scratch memory for this call (64-byte aligned, uninitialised, freed by the host when the call
/// returns), or NULL if it cannot be had. Ordinary Rust allocation (`Vec`) works too.
///
/// # Safety
/// `call` must be the `lathe_call` the host passed to the running method; the memory must not be
/// used after the method returns.
pub unsafe fn scratch(call: *mut lathe_call, bytes: usize) -> *mut c_void {
    let Some(host) = (unsafe { call_host(call) }) else { return core::ptr::null_mut() };
    if !has_field(host.head.size, offset_of!(lathe_host, scratch), size_of::<usize>()) {
        return core::ptr::null_mut();
    }
    match host.scratch {
        Some(f) => unsafe { f(call, bytes) },
        None => core::ptr::null_mut(),
    }
}

/// \[1.1\] The persistent state buffer of this method instance through `call->host->state` (see
/// the header: 64-byte aligned, zero-filled when first handed out, the first request fixes the
/// size), or NULL when the host lacks it (a 1.0 host), the size differs from the first request or
/// exceeds [`LATHE_STATE_MAX_BYTES`]; then fail the call with `LATHE_NO_MEMORY`.
///
/// # Safety
/// `call` must be the `lathe_call` the host passed to the running method.
pub unsafe fn state(call: *mut lathe_call, bytes: usize) -> *mut c_void {
    let Some(host) = (unsafe { call_host(call) }) else { return core::ptr::null_mut() };
    if !has_field(host.head.size, offset_of!(lathe_host, state), size_of::<usize>()) {
        return core::ptr::null_mut();
    }
    match host.state {
        Some(f) => unsafe { f(call, bytes) },
        None => core::ptr::null_mut(),
    }
}

/// \[1.2\] Records a named number about the current call (e.g. a solver's damping) in the run's
/// ledger through `call->host->report_metric`: `name` is `[a-z][a-z0-9_]*`, at most 32 bytes (an
/// interior NUL becomes `?`, which the host refuses); `value` finite; at most 16 names per call, a
/// later value of a name replacing the earlier one. Returns `Some(LATHE_OK)`, or
/// `Some(LATHE_INVALID_ARGUMENT)` when the host refuses it (nothing recorded; the call may go on),
/// or `None` when the host lacks the function (a 1.0 or 1.1 host, whose table is too short:
/// nothing past its declared size is read; the Rust counterpart of
/// `LATHE_HAS_FIELD(call->host, lathe_host, report_metric)`).
///
/// # Safety
/// `call` must be NULL or the `lathe_call` the host passed to the running method.
pub unsafe fn report_metric(call: *mut lathe_call, name: &str, value: f64) -> Option<lathe_status> {
    let host = unsafe { call_host(call) }?;
    if !has_field(host.head.size, offset_of!(lathe_host, report_metric), size_of::<usize>()) {
        return None;
    }
    let f = host.report_metric?;
    let text = c_string(name);
    Some(unsafe { f(call, text.as_ptr(), value) })
}

// ---------------------------------------------------------------------------------------------
// [1.1] The call context (the Rust counterpart of C's LATHE_HAS_FIELD(call, lathe_call, f))
// ---------------------------------------------------------------------------------------------

/// `Some(call.$field)` when the call is non-NULL and its declared size holds the field, else `None`.
macro_rules! call_field {
    ($call:expr, $field:ident) => {{
        // SAFETY: the caller passes NULL or the valid call the host handed to the method.
        match unsafe { ($call).as_ref() } {
            Some(c) if has_field(c.head.size, offset_of!(lathe_call, $field), core::mem::size_of_val(&c.$field)) => Some(c.$field),
            _ => None,
        }
    }};
}

/// The layer's name, or "" when the call does not say (a 1.0 host, a call about no layer).
///
/// # Safety
/// `call` must be NULL or the `lathe_call` the host passed to the running method.
pub unsafe fn call_layer<'a>(call: *const lathe_call) -> &'a str {
    match call_field!(call, layer) {
        Some(p) if !p.is_null() => unsafe { core::ffi::CStr::from_ptr(p) }.to_str().unwrap_or(""),
        _ => "",
    }
}

/// The `lathe_role` of the call's (first) input; `LATHE_ROLE_NONE` from a 1.0 host.
///
/// # Safety
/// As for [`call_layer`].
pub unsafe fn call_role(call: *const lathe_call) -> lathe_role {
    call_field!(call, role).unwrap_or(LATHE_ROLE_NONE)
}

/// The channel axis the host wants per-channel parameters on; -1 (per tensor) from a 1.0 host.
///
/// # Safety
/// As for [`call_layer`].
pub unsafe fn call_axis(call: *const lathe_call) -> i32 {
    call_field!(call, axis).unwrap_or(-1)
}

/// The training position of a call: -1 step and epoch and 0 totals outside training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Training {
    pub step: i64,
    pub total_steps: i64,
    pub epoch: i32,
    pub total_epochs: i32,
}

/// The call's training position; "outside training" from a 1.0 host.
///
/// # Safety
/// As for [`call_layer`].
pub unsafe fn call_training(call: *const lathe_call) -> Training {
    Training {
        step: call_field!(call, step).unwrap_or(-1),
        total_steps: call_field!(call, total_steps).unwrap_or(0),
        epoch: call_field!(call, epoch).unwrap_or(-1),
        total_epochs: call_field!(call, total_epochs).unwrap_or(0),
    }
}

/// The learnables' current values (forward, backward, loss), in declaration order; empty from a
/// 1.0 host or when the call carries none (init_learnables).
///
/// # Safety
/// As for [`call_layer`]; the tensors are valid for the call only.
pub unsafe fn call_learnables<'a>(call: *const lathe_call) -> &'a [*const DLTensor] {
    match (call_field!(call, learnable_count), call_field!(call, learnables)) {
        (Some(n), Some(p)) if n > 0 && !p.is_null() => unsafe { core::slice::from_raw_parts(p, n as usize) },
        _ => &[],
    }
}

/// The learnables' outputs (init_learnables: initial values; backward and loss: gradients), in
/// declaration order; empty from a 1.0 host or when the call carries none.
///
/// # Safety
/// As for [`call_learnables`].
pub unsafe fn call_learnable_outputs<'a>(call: *const lathe_call) -> &'a [*mut DLTensor] {
    match (call_field!(call, learnable_count), call_field!(call, learnable_outputs)) {
        (Some(n), Some(p)) if n > 0 && !p.is_null() => unsafe { core::slice::from_raw_parts(p, n as usize) },
        _ => &[],
    }
}

/// A loss call's sample indices (`batch` of them) and the dataset size, or `None` when the batch
/// is not from the training set (checks, evaluation) or the host is 1.0.
///
/// # Safety
/// As for [`call_layer`]; `batch` must be the batch size of the call's tensors.
pub unsafe fn call_samples<'a>(call: *const lathe_call, batch: usize) -> Option<(&'a [i64], i64)> {
    let p = call_field!(call, sample_indices)?;
    let n = call_field!(call, dataset_size)?;
    if p.is_null() {
        return None;
    }
    Some((unsafe { core::slice::from_raw_parts(p, batch) }, n))
}

// ---------------------------------------------------------------------------------------------
// [1.2] Calibration statistics (see the header's "Calibration statistics": the weight viewed as
// [out, D]; G groups, 1 but for grouped convs; feature j = (c·k + u)·k + v for a conv; float32)
// ---------------------------------------------------------------------------------------------

/// `call->input_abs_max` (\[G, D\]: max |x_j| over the calibration rows), or `None` when the call
/// does not carry it: from a 1.0 or 1.1 host (a call too short for the field), or when it is NULL
/// (the method does not declare [`LATHE_FLAG_NEEDS_INPUT_ABS_MAX`], or the call is not about one
/// layer's weight). View it with [`f32_slice`].
///
/// # Safety
/// As for [`call_layer`]; the tensor is valid for the call only.
pub unsafe fn call_input_abs_max<'a>(call: *const lathe_call) -> Option<&'a DLTensor> {
    let p = call_field!(call, input_abs_max)?;
    unsafe { p.as_ref() }
}

/// `call->input_mean_square` (\[G, D\]: Σ x_j² / n), or `None` as for [`call_input_abs_max`]
/// (the flag being [`LATHE_FLAG_NEEDS_INPUT_MEAN_SQUARE`]).
///
/// # Safety
/// As for [`call_input_abs_max`].
pub unsafe fn call_input_mean_square<'a>(call: *const lathe_call) -> Option<&'a DLTensor> {
    let p = call_field!(call, input_mean_square)?;
    unsafe { p.as_ref() }
}

/// `call->input_gram` (\[G, D, D\]: XᵀX / n, symmetric), or `None` as for [`call_input_abs_max`]
/// (the flag being [`LATHE_FLAG_NEEDS_INPUT_GRAM`]).
///
/// # Safety
/// As for [`call_input_abs_max`].
pub unsafe fn call_input_gram<'a>(call: *const lathe_call) -> Option<&'a DLTensor> {
    let p = call_field!(call, input_gram)?;
    unsafe { p.as_ref() }
}

/// `call->input_abs_mean` (\[G, D\]: Σ |x_j| / n), or `None` as for [`call_input_abs_max`] (the
/// flag being [`LATHE_FLAG_NEEDS_INPUT_ABS_MEAN`]) and from a host before 1.3.
///
/// # Safety
/// As for [`call_input_abs_max`].
pub unsafe fn call_input_abs_mean<'a>(call: *const lathe_call) -> Option<&'a DLTensor> {
    let p = call_field!(call, input_abs_mean)?;
    unsafe { p.as_ref() }
}

/// `call->calibration_rows` (n, the rows the statistics are taken over; 0 when the call carries
/// none), or `None` from a 1.0 or 1.1 host.
///
/// # Safety
/// As for [`call_layer`].
pub unsafe fn call_calibration_rows(call: *const lathe_call) -> Option<i64> {
    call_field!(call, calibration_rows)
}

/// Logs a line through `host->log` (level: 0 debug, 1 info, 2 warning, 3 error).
///
/// # Safety
/// `host` must be NULL or the host table passed to `init`.
pub unsafe fn log(host: *const lathe_host, level: i32, message: &str) {
    let Some(h) = (unsafe { host.as_ref() }) else { return };
    if !has_field(h.head.size, offset_of!(lathe_host, log), size_of::<usize>()) {
        return;
    }
    if let Some(f) = h.log {
        let text = c_string(message);
        unsafe { f(host, level, text.as_ptr()) };
    }
}

/// Runs `body`, catching a panic; a panic becomes `Err` with its message.
pub fn catch_panic<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic payload".to_string()
        }
    })
}

/// Runs a method body so that nothing but a status crosses the C boundary: `Ok(())` becomes
/// LATHE_OK; `Err(failure)` reports `failure.message` and returns `failure.status`; a panic
/// reports `"panic: <message>"` and returns LATHE_ERROR. (Rust's default panic hook still prints
/// the panic to stderr.) Wrap every method body in it.
///
/// # Safety
/// `call` must be NULL or the `lathe_call` the host passed to the running method.
pub unsafe fn guard(call: *mut lathe_call, body: impl FnOnce() -> Result<(), Failure>) -> lathe_status {
    let (status, message) = match catch_panic(body) {
        Ok(Ok(())) => return LATHE_OK,
        Ok(Err(failure)) => {
            let status = if failure.status == LATHE_OK { LATHE_ERROR } else { failure.status };
            (status, failure.message)
        }
        Err(panic) => (LATHE_ERROR, format!("panic: {panic}")),
    };
    // Reporting must not panic across the boundary either.
    let _ = catch_panic(|| unsafe { report_error(call, &message) });
    status
}

/// Registers every method of `methods` (the usual body of `init`); stops at the first refusal,
/// which it logs, and returns its status. Panics are caught and logged.
///
/// # Safety
/// `host` and `registrar` must be the pointers passed to `init`.
pub unsafe fn register_all(host: *const lathe_host, registrar: *const lathe_registrar, methods: &[lathe_method]) -> lathe_status {
    let result = catch_panic(|| unsafe {
        let Some(r) = registrar.as_ref() else {
            log(host, 3, "init: NULL registrar");
            return LATHE_INVALID_ARGUMENT;
        };
        let Some(register) = r.register_method else {
            log(host, 3, "init: the registrar has no register_method");
            return LATHE_INVALID_ARGUMENT;
        };
        for m in methods {
            let status = register(registrar, m);
            if status != LATHE_OK {
                let id = if m.id.is_null() {
                    "(null)".to_string()
                } else {
                    core::ffi::CStr::from_ptr(m.id).to_string_lossy().into_owned()
                };
                log(host, 3, &format!("init: registering method '{id}' failed with status {status}"));
                return status;
            }
        }
        LATHE_OK
    });
    match result {
        Ok(status) => status,
        Err(panic) => {
            let _ = catch_panic(|| unsafe { log(host, 3, &format!("init: panic: {panic}")) });
            LATHE_ERROR
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tensor views
// ---------------------------------------------------------------------------------------------

/// The shape of a tensor (empty for a 0-d tensor).
///
/// # Safety
/// `t` must be NULL or point at a DLTensor valid for `'a`.
pub unsafe fn shape<'a>(t: *const DLTensor, what: &str) -> Result<&'a [i64], Failure> {
    let t = unsafe { t.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what}: the tensor is NULL")))?;
    let ndim = usize::try_from(t.ndim).map_err(|_| Failure::invalid(format!("{what}: negative ndim {}", t.ndim)))?;
    if ndim == 0 {
        return Ok(&[]);
    }
    if t.shape.is_null() {
        return Err(Failure::invalid(format!("{what}: NULL shape with ndim {ndim}")));
    }
    Ok(unsafe { core::slice::from_raw_parts(t.shape, ndim) })
}

/// Checks a tensor (CPU, dtype `code`/`bits`, one lane, compact row-major) and returns its
/// element pointer and element count.
unsafe fn checked_elements(t: *const DLTensor, what: &str, code: u8, bits: u8, type_name: &str) -> Result<(*mut u8, usize), Failure> {
    let dims = unsafe { shape(t, what) }?;
    // SAFETY: `shape` returned Ok, so `t` is not NULL.
    let t = unsafe { &*t };
    if t.device.device_type != kDLCPU {
        return Err(Failure::invalid(format!("{what}: expected a CPU tensor, got device type {}", t.device.device_type)));
    }
    if t.dtype.code != code || t.dtype.bits != bits || t.dtype.lanes != 1 {
        return Err(Failure::invalid(format!(
            "{what}: expected {type_name}, got dtype code {} bits {} lanes {}",
            t.dtype.code, t.dtype.bits, t.dtype.lanes
        )));
    }
    let mut count: usize = 1;
    for (i, &d) in dims.iter().enumerate() {
        let d = usize::try_from(d).map_err(|_| Failure::invalid(format!("{what}: negative size {d} in dimension {i}")))?;
        count = count.checked_mul(d).ok_or_else(|| Failure::invalid(format!("{what}: too many elements")))?;
    }
    let elem = usize::from(bits) / 8;
    match count.checked_mul(elem) {
        Some(bytes) if bytes <= isize::MAX as usize => {}
        _ => return Err(Failure::invalid(format!("{what}: too many elements"))),
    }
    if !t.strides.is_null() && count > 0 {
        let strides = unsafe { core::slice::from_raw_parts(t.strides, dims.len()) };
        let mut expected: i64 = 1;
        for i in (0..dims.len()).rev() {
            // A stride of a dimension of size 1 is irrelevant to the layout.
            if dims[i] != 1 && strides[i] != expected {
                return Err(Failure::invalid(format!(
                    "{what}: not compact row-major (stride {} in dimension {i}, expected {expected})",
                    strides[i]
                )));
            }
            expected *= dims[i];
        }
    }
    if count == 0 {
        return Ok((core::ptr::NonNull::<u64>::dangling().as_ptr().cast(), 0));
    }
    if t.data.is_null() {
        return Err(Failure::invalid(format!("{what}: NULL data")));
    }
    let offset = usize::try_from(t.byte_offset).map_err(|_| Failure::invalid(format!("{what}: byte_offset too large")))?;
    let data = (t.data as *mut u8).wrapping_add(offset);
    if (data as usize) & (elem - 1) != 0 {
        return Err(Failure::invalid(format!("{what}: data is not aligned to {elem} bytes")));
    }
    Ok((data, count))
}

/// Views a float32, CPU, compact tensor as `&[f32]` (row-major), checking the dtype, the device,
/// the strides (NULL or compact) and the element count (product of the shape).
///
/// # Safety
/// `t` must be NULL or point at a DLTensor whose data is valid and unmodified for `'a`.
pub unsafe fn f32_slice<'a>(t: *const DLTensor, what: &str) -> Result<&'a [f32], Failure> {
    let (data, count) = unsafe { checked_elements(t, what, kDLFloat, 32, "float32") }?;
    Ok(unsafe { core::slice::from_raw_parts(data as *const f32, count) })
}

/// Views a float32, CPU, compact output tensor as `&mut [f32]` (same checks as [`f32_slice`]).
///
/// # Safety
/// `t` must be NULL or point at a DLTensor whose data is valid for `'a` and not aliased by any
/// other view (the host's outputs never alias its inputs).
pub unsafe fn f32_slice_mut<'a>(t: *mut DLTensor, what: &str) -> Result<&'a mut [f32], Failure> {
    let (data, count) = unsafe { checked_elements(t, what, kDLFloat, 32, "float32") }?;
    Ok(unsafe { core::slice::from_raw_parts_mut(data as *mut f32, count) })
}

/// Views an int64, CPU, compact tensor (e.g. a loss's labels) as `&[i64]`.
///
/// # Safety
/// As for [`f32_slice`].
pub unsafe fn i64_slice<'a>(t: *const DLTensor, what: &str) -> Result<&'a [i64], Failure> {
    let (data, count) = unsafe { checked_elements(t, what, kDLInt, 64, "int64") }?;
    Ok(unsafe { core::slice::from_raw_parts(data as *const i64, count) })
}
