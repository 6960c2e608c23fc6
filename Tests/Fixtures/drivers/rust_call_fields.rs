//! Checks the Rust SDK's [1.1] and [1.2] accessors: a call struct cut to the 1.0 size reads as the
//! documented defaults (nothing past the declared size is read), a full one gives its fields; one
//! cut to the 1.1 size has no calibration statistics; the host's `state` entry likewise, and its
//! [1.2] `report_metric` (None from a host table cut to the 1.1 size). Prints "FAIL ..." lines and
//! "passed N of N".
#[path = "../../../Sources/CLathePlugin/rust/lathe_plugin.rs"]
mod lathe_plugin;
use lathe_plugin::*;

use core::ffi::{c_char, c_void};
use core::mem::{offset_of, size_of};
use std::sync::Mutex;

static mut STATE: [u64; 8] = [0; 8];
/// Every (name, value) the host's `report_metric` was called with, in order.
static METRICS: Mutex<Vec<(String, f64)>> = Mutex::new(Vec::new());

/// A float32 CPU tensor over `data` with `shape` (compact, NULL strides).
fn f32_tensor(data: &mut [f32], shape: &mut [i64]) -> DLTensor {
    DLTensor {
        data: data.as_mut_ptr() as *mut c_void,
        device: DLDevice { device_type: kDLCPU, device_id: 0 },
        ndim: shape.len() as i32,
        dtype: DLDataType { code: kDLFloat, bits: 32, lanes: 1 },
        shape: shape.as_mut_ptr(),
        strides: core::ptr::null_mut(),
        byte_offset: 0,
    }
}

unsafe extern "C" fn host_state(_call: *mut lathe_call, bytes: usize) -> *mut c_void {
    if bytes == 64 { core::ptr::addr_of_mut!(STATE) as *mut c_void } else { core::ptr::null_mut() }
}

/// Records the call; refuses (as the host does) a name that is not `[a-z][a-z0-9_]*` or a
/// non-finite value.
unsafe extern "C" fn host_report_metric(_call: *mut lathe_call, name: *const c_char, value: f64) -> i32 {
    let name = unsafe { core::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned();
    let valid = name.len() <= 32
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    METRICS.lock().unwrap().push((name, value));
    if valid && value.is_finite() { LATHE_OK } else { LATHE_INVALID_ARGUMENT }
}

fn metric_calls() -> Vec<(String, f64)> {
    METRICS.lock().unwrap().clone()
}

fn main() {
    let mut checks = 0;
    let mut failures = 0;
    let mut expect = |ok: bool, what: &str| {
        checks += 1;
        if !ok {
            failures += 1;
            println!("FAIL {what}");
        }
    };
    let mut host = lathe_host {
        head: lathe_head::of::<lathe_host>(),
        host_private: core::ptr::null_mut(),
        log: None,
        report_error: None,
        report_qparams: None,
        scratch: None,
        state: Some(host_state),
        report_metric: Some(host_report_metric),
    };
    let host_ptr: *mut lathe_host = &mut host;
    let indices = [3i64, 1, 4];
    let values: [*const DLTensor; 2] = [core::ptr::null(); 2];
    // [1.2] Statistics of a layer with G = 1, D = 2: [1, 2] and [1, 2, 2].
    let (mut abs_max, mut mean_square, mut gram) = ([3.0f32, 0.5], [2.0f32, 0.25], [2.0f32, -0.5, -0.5, 0.25]);
    let (mut shape_gd, mut shape_gd2, mut shape_gdd) = ([1i64, 2], [1i64, 2], [1i64, 2, 2]);
    let abs_max_t = f32_tensor(&mut abs_max, &mut shape_gd);
    let mean_square_t = f32_tensor(&mut mean_square, &mut shape_gd2);
    let gram_t = f32_tensor(&mut gram, &mut shape_gdd);
    let mut call = lathe_call {
        head: lathe_head::of::<lathe_call>(),
        host: host_ptr,
        host_private: core::ptr::null_mut(),
        layer: c"conv2".as_ptr(),
        role: LATHE_ROLE_ACTIVATION,
        axis: 1,
        step: 7,
        total_steps: 100,
        epoch: 2,
        total_epochs: 10,
        learnable_count: 2,
        learnables: values.as_ptr(),
        learnable_outputs: core::ptr::null(),
        sample_indices: indices.as_ptr(),
        dataset_size: 60000,
        input_abs_max: &abs_max_t,
        input_mean_square: &mean_square_t,
        input_gram: &gram_t,
        calibration_rows: 4,
        input_abs_mean: &mean_square_t,
    };
    unsafe {
        let c: *mut lathe_call = &mut call;
        expect(call_layer(c) == "conv2", "layer of a 1.1 call");
        expect(call_role(c) == LATHE_ROLE_ACTIVATION && call_axis(c) == 1, "role and axis of a 1.1 call");
        expect(call_training(c) == Training { step: 7, total_steps: 100, epoch: 2, total_epochs: 10 }, "training position");
        expect(call_learnables(c).len() == 2 && call_learnable_outputs(c).is_empty(), "learnables: 2 values, no outputs");
        expect(call_samples(c, 3) == Some((&indices[..], 60000)), "sample indices and dataset size");
        expect(state(c, 64) == core::ptr::addr_of_mut!(STATE) as *mut c_void, "host state of a 1.1 host");
        expect(
            call_input_abs_max(c).map(|t| t as *const DLTensor) == Some(&abs_max_t as *const DLTensor)
                && call_input_mean_square(c).map(|t| t as *const DLTensor) == Some(&mean_square_t as *const DLTensor)
                && call_input_gram(c).and_then(|t| f32_slice(t, "gram").ok()) == Some(&gram[..])
                && call_calibration_rows(c) == Some(4),
            "calibration statistics of a 1.2 call",
        );
        expect(call_input_abs_mean(c).map(|t| t as *const DLTensor) == Some(&mean_square_t as *const DLTensor), "[1.3] abs-mean of a 1.3 call");
        // Cut to 1.2: the [1.3] abs-mean absent, the [1.2] statistics there.
        (*c).head.size = offset_of!(lathe_call, input_abs_mean) as u32;
        expect(call_input_abs_mean(c).is_none() && call_calibration_rows(c) == Some(4), "1.2 call: no abs-mean, rows still there");
        // Cut to 1.1: every [1.1] field there, every [1.2] field absent.
        (*c).head.size = offset_of!(lathe_call, input_abs_max) as u32;
        expect(
            call_input_abs_max(c).is_none() && call_input_mean_square(c).is_none() && call_input_gram(c).is_none()
                && call_calibration_rows(c).is_none() && call_samples(c, 3) == Some((&indices[..], 60000)),
            "1.1 call: no calibration statistics, sample indices still there",
        );
        // Cut in the middle of the statistics: abs-max and mean square present, Gram and rows absent.
        (*c).head.size = (offset_of!(lathe_call, input_mean_square) + size_of::<*const DLTensor>()) as u32;
        expect(
            call_input_abs_max(c).is_some() && call_input_mean_square(c).is_some() && call_input_gram(c).is_none()
                && call_calibration_rows(c).is_none(),
            "a call cut after input_mean_square",
        );
        // A 1.2 call without statistics (a method without the flags): NULL reads as None, 0 rows.
        (*c).head.size = size_of::<lathe_call>() as u32;
        (*c).input_abs_max = core::ptr::null();
        (*c).input_mean_square = core::ptr::null();
        (*c).input_gram = core::ptr::null();
        (*c).calibration_rows = 0;
        (*c).input_abs_mean = core::ptr::null();
        expect(
            call_input_abs_max(c).is_none() && call_input_mean_square(c).is_none() && call_input_gram(c).is_none()
                && call_input_abs_mean(c).is_none() && call_calibration_rows(c) == Some(0),
            "1.2 call without statistics: none, 0 rows",
        );
        // Cut to 1.0: every [1.1] field absent.
        (*c).head.size = offset_of!(lathe_call, layer) as u32;
        expect(call_layer(c).is_empty() && call_role(c) == LATHE_ROLE_NONE && call_axis(c) == -1, "1.0 call: layer, role, axis defaults");
        expect(call_training(c) == Training { step: -1, total_steps: 0, epoch: -1, total_epochs: 0 }, "1.0 call: outside training");
        expect(call_learnables(c).is_empty() && call_samples(c, 3).is_none(), "1.0 call: no learnables, no samples");
        // Cut in the middle: role present, learnables absent.
        (*c).head.size = (offset_of!(lathe_call, axis) + size_of::<i32>()) as u32;
        expect(call_axis(c) == 1 && call_training(c).epoch == -1, "a call cut after axis");
        (*c).head.size = size_of::<lathe_call>() as u32;
        // [1.2] report_metric: a full host table calls through and passes the host's status back.
        expect(
            report_metric(c, "damping", 0.01) == Some(LATHE_OK) && metric_calls() == [("damping".to_string(), 0.01)],
            "report_metric of a 1.2 host calls through",
        );
        expect(
            report_metric(c, "Bad-Name", 1.0) == Some(LATHE_INVALID_ARGUMENT) && metric_calls().len() == 2,
            "report_metric passes the host's refusal back",
        );
        // A NULL entry in a full table: None, nothing called.
        (*host_ptr).report_metric = None;
        expect(report_metric(c, "loss", 2.5).is_none() && metric_calls().len() == 2, "report_metric NULL in the host table: none");
        (*host_ptr).report_metric = Some(host_report_metric);
        // Cut to 1.1: state still there, report_metric absent (not read, not called).
        (*host_ptr).head.size = offset_of!(lathe_host, report_metric) as u32;
        expect(
            report_metric(c, "loss", 2.5).is_none() && metric_calls().len() == 2
                && state(c, 64) == core::ptr::addr_of_mut!(STATE) as *mut c_void,
            "1.1 host: no report_metric, state still there",
        );
        (*host_ptr).head.size = offset_of!(lathe_host, state) as u32;
        expect(state(c, 64).is_null() && report_metric(c, "loss", 2.5).is_none(), "1.0 host: no state, no report_metric");
    }
    println!("passed {} of {}", checks - failures, checks);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
