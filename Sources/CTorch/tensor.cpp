// Lifetime, metadata, creation and autograd entry points.
#include "shim.hpp"
#include <ATen/EmptyTensor.h>
#include <torch/csrc/autograd/autograd.h>
#include <atomic>
#include <cstring>

using namespace ctorch;

static at::TensorOptions float_options(int32_t dtype) { return at::TensorOptions().dtype(scalar_type(dtype)); }

extern "C" {

void ct_free(ct_tensor t) { delete t; }
ct_tensor ct_shallow_clone(ct_tensor t) { return guard([&] { return T(t); }); }
int64_t ct_dim(ct_tensor t) { return t && t->t.defined() ? t->t.dim() : 0; }

static int64_t copy_dims(at::IntArrayRef v, int64_t *out, int64_t cap) {
    int64_t n = static_cast<int64_t>(v.size());
    for (int64_t i = 0; i < n && i < cap; ++i) out[i] = v[i];
    return n;
}
int64_t ct_sizes(ct_tensor t, int64_t *out, int64_t cap) {
    if (!t || !t->t.defined()) return 0;
    return copy_dims(t->t.sizes(), out, cap);
}
int64_t ct_strides(ct_tensor t, int64_t *out, int64_t cap) {
    if (!t || !t->t.defined()) return 0;
    return copy_dims(t->t.strides(), out, cap);
}
int64_t ct_numel(ct_tensor t) { return t && t->t.defined() ? t->t.numel() : 0; }
int32_t ct_dtype_of(ct_tensor t) { return t && t->t.defined() ? static_cast<int32_t>(t->t.scalar_type()) : -1; }
void *ct_data_ptr(ct_tensor t) { return t && t->t.defined() ? t->t.data_ptr() : nullptr; }
bool ct_is_contiguous(ct_tensor t) { return t && t->t.defined() && t->t.is_contiguous(); }
bool ct_defined(ct_tensor t) { return t && t->t.defined(); }
int32_t ct_item(ct_tensor t, double *out) {
    return guard_status([&] { *out = T(t).item<double>(); });
}

ct_tensor ct_from_data(const void *data, const int64_t *shape, int64_t ndim, int32_t dtype) {
    return guard([&] {
        auto out = at::empty(dims(shape, ndim), float_options(dtype));
        if (out.numel() > 0) {
            if (data == nullptr) throw std::invalid_argument("ct_from_data: null data");
            std::memcpy(out.data_ptr(), data, out.nbytes());
        }
        return out;
    });
}
// The CPU allocation without the operator dispatcher (the engine is CPU only, and an empty tensor
// has no autograd history): plugin calls allocate their outputs per call, and the dispatcher's
// bookkeeping cost as much as the allocation. Sizes are still checked non-negative.
ct_tensor ct_empty(const int64_t *shape, int64_t ndim, int32_t dtype) {
    return guard([&] { return at::Tensor(at::detail::empty_cpu(dims(shape, ndim), scalar_type(dtype))); });
}
bool ct_is_exclusive(ct_tensor t, const int64_t *shape, int64_t ndim, int32_t dtype) {
    if (!t || !t->t.defined() || ndim < 0 || (ndim > 0 && !shape)) return false;
    const at::Tensor &x = t->t;
    if (static_cast<int32_t>(x.scalar_type()) != dtype || x.use_count() != 1 || x.weak_use_count() != 1) return false;
    if (!x.has_storage() || x.storage().use_count() != 1 || x.requires_grad() || x.storage_offset() != 0) return false;
    if (!x.is_contiguous() || x.sizes() != at::IntArrayRef(shape, static_cast<size_t>(ndim))) return false;
    // The last other holder may have dropped it on another thread: see its writes before ours.
    std::atomic_thread_fence(std::memory_order_acquire);
    return true;
}
ct_tensor ct_full(const int64_t *shape, int64_t ndim, double value, int32_t dtype) {
    return guard([&] { return at::full(dims(shape, ndim), value, float_options(dtype)); });
}
ct_tensor ct_arange(double start, double end, double step, int32_t dtype) {
    return guard([&] { return at::arange(start, end, step, float_options(dtype)); });
}
ct_tensor ct_randn(const int64_t *shape, int64_t ndim, ct_generator g) {
    return guard([&] { return at::randn(dims(shape, ndim), gen(g)); });
}
ct_tensor ct_rand_uniform(const int64_t *shape, int64_t ndim, double low, double high, ct_generator g) {
    return guard([&] { return at::empty(dims(shape, ndim)).uniform_(low, high, gen(g)); });
}
ct_tensor ct_randperm(int64_t n, ct_generator g) {
    return guard([&] { return at::randperm(n, gen(g), at::TensorOptions().dtype(at::kLong)); });
}
int32_t ct_uniform_(ct_tensor t, double low, double high, ct_generator g) {
    return guard_status([&] { at::NoGradGuard ng; T(t).uniform_(low, high, gen(g)); });
}
int32_t ct_normal_(ct_tensor t, double mean, double std, ct_generator g) {
    return guard_status([&] { at::NoGradGuard ng; T(t).normal_(mean, std, gen(g)); });
}

int32_t ct_set_requires_grad(ct_tensor t, bool requires_grad) {
    return guard_status([&] { T(t).set_requires_grad(requires_grad); });
}
bool ct_requires_grad(ct_tensor t) { return t && t->t.defined() && t->t.requires_grad(); }
ct_tensor ct_grad(ct_tensor t) { return guard([&] { return T(t).grad(); }); }
int32_t ct_zero_grad(ct_tensor t) {
    return guard_status([&] {
        auto &g = T(t).mutable_grad();
        if (g.defined()) g = at::Tensor();
    });
}
int32_t ct_backward(ct_tensor t, ct_tensor grad, bool retain_graph) {
    return guard_status([&] {
        T(t).backward(grad ? grad->t : at::Tensor(), retain_graph);
    });
}
int32_t ct_autograd_grad(const ct_tensor *outputs, int64_t n_outputs, const ct_tensor *inputs,
                         int64_t n_inputs, bool create_graph, ct_tensor *out) {
    return guard_status([&] {
        std::vector<at::Tensor> outs, ins;
        for (int64_t i = 0; i < n_outputs; ++i) outs.push_back(T(outputs[i]));
        for (int64_t i = 0; i < n_inputs; ++i) ins.push_back(T(inputs[i]));
        auto grads = torch::autograd::grad(outs, ins, {}, create_graph, create_graph, true);
        for (int64_t i = 0; i < n_inputs; ++i) out[i] = wrap(grads[static_cast<size_t>(i)]);
    });
}
ct_tensor ct_detach(ct_tensor t) { return guard([&] { return T(t).detach(); }); }

}
