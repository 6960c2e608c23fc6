// Optimizer steps over all parameters in one call: one crossing of the C boundary per step
// instead of four or five tensor operations per parameter from Swift.
#include "shim.hpp"
#include <ATen/Parallel.h>

using namespace ctorch;

namespace {

/// The momentum step as one pass over contiguous float32 memory:
///     b <- mu*b + (g + wd*p)   (b <- g + wd*p on the first step);   p <- p - lr*b
/// Each ATen operation of the reference rule costs a few microseconds of dispatch whatever the
/// tensor's size, which for a small network is most of the step. Returns false (and does
/// nothing) when the tensors are not all contiguous float32 CPU tensors of one shape.
bool fused_sgd(at::Tensor &p, const at::Tensor &grad, ct_tensor &buffer, double lr, double momentum,
               double weight_decay) {
    auto plain = [&](const at::Tensor &t) {
        return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous() && t.sizes() == p.sizes() &&
               t.layout() == at::kStrided;
    };
    if (!plain(p) || !plain(grad) || (buffer != nullptr && !plain(T(buffer)))) return false;
    const bool first = buffer == nullptr;
    at::Tensor b = first ? at::empty_like(p, at::MemoryFormat::Contiguous) : T(buffer);
    float *__restrict pp = p.data_ptr<float>();
    float *__restrict bp = b.data_ptr<float>();
    const float *__restrict gp = grad.data_ptr<float>();
    const float mu = static_cast<float>(momentum), wd = static_cast<float>(weight_decay);
    const float step = static_cast<float>(-lr);
    at::parallel_for(0, p.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        // d = g + wd*p is left out when wd == 0, as the reference does (0 * inf would be NaN).
        if (first && wd != 0) {
            for (int64_t k = begin; k < end; k++) bp[k] = gp[k] + wd * pp[k];
        } else if (first) {
            for (int64_t k = begin; k < end; k++) bp[k] = gp[k];
        } else if (wd != 0) {
            for (int64_t k = begin; k < end; k++) bp[k] = mu * bp[k] + (gp[k] + wd * pp[k]);
        } else {
            for (int64_t k = begin; k < end; k++) bp[k] = mu * bp[k] + gp[k];
        }
        for (int64_t k = begin; k < end; k++) pp[k] = pp[k] + step * bp[k];
    });
    if (first) buffer = wrap(b);
    return true;
}

} // namespace

extern "C" {

int32_t ct_sgd_step(ct_tensor *params, ct_tensor *buffers, int64_t n, double lr, double momentum,
                    double weight_decay, bool nesterov) {
    return guard_status([&] {
        if (n < 0 || (n > 0 && (params == nullptr || buffers == nullptr)))
            throw std::invalid_argument("sgd_step: null parameter or buffer array");
        at::NoGradGuard no_grad;
        for (int64_t i = 0; i < n; i++) {
            at::Tensor &p = T(params[i]);
            const at::Tensor &grad = p.grad();
            if (!grad.defined()) continue;
            if (momentum != 0 && !nesterov && fused_sgd(p, grad, buffers[i], lr, momentum, weight_decay)) continue;
            // torch.optim.SGD's single-tensor rule (dampening 0), operation for operation.
            at::Tensor d = weight_decay != 0 ? grad.add(p, weight_decay) : grad;
            if (momentum != 0) {
                if (buffers[i] == nullptr) {
                    buffers[i] = wrap(d.clone().detach());
                } else {
                    T(buffers[i]).mul_(momentum).add_(d);
                }
                const at::Tensor &buffer = T(buffers[i]);
                d = nesterov ? d.add(buffer, momentum) : buffer;
            }
            p.add_(d, -lr);
        }
    });
}

} // extern "C"
