//! Argument checking shared by every criterion: shapes, finiteness, what the criterion needs
//! (gradient, aux), the scores' shape for its granularity, no output aliasing an input, and
//! finite scores afterwards.

use crate::lathe_plugin::{self, *};

/// What a criterion needs besides the weight.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    Nothing,
    Gradient,
    Aux,
}

/// The validated inputs of one criterion call.
pub(crate) struct Inputs<'a> {
    /// The weight's shape (at least one dimension).
    pub shape: &'a [i64],
    pub weight: &'a [f32],
    /// Same length as `weight` if the criterion needs the gradient, else empty.
    pub gradient: &'a [f32],
    /// `shape[0]` values if the criterion needs aux, else empty.
    pub aux: &'a [f32],
}

impl Inputs<'_> {
    /// Number of output channels (dimension 0).
    pub fn channels(&self) -> usize {
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
    pub fn channel<'s>(&self, data: &'s [f32], c: usize) -> &'s [f32] {
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
pub(crate) unsafe fn criterion(
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
