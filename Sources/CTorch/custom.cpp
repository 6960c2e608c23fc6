// A differentiable operation whose backward is computed by the caller (Swift, and through it a
// plugin's backward entry): the forward value is computed outside autograd, then attached to the
// graph as the output of a node whose backward calls a C callback.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>
#include "shim.hpp"

using namespace ctorch;

namespace {

struct HostNode : public torch::autograd::Node {
    ct_backward_fn fn;
    void *context;
    ct_release_fn release;
    size_t inputs;

    HostNode(ct_backward_fn f, void *c, ct_release_fn r, size_t n) : fn(f), context(c), release(r), inputs(n) {}
    ~HostNode() override {
        if (release) release(context);
    }
    HostNode(const HostNode &) = delete;
    HostNode &operator=(const HostNode &) = delete;

    std::string name() const override { return "LatheHostFunction"; }

    torch::autograd::variable_list apply(torch::autograd::variable_list &&grads) override {
        torch::autograd::variable_list result(inputs);
        if (grads.empty() || !grads[0].defined()) return result;
        ct_tensor_s upstream{grads[0].contiguous()};
        std::vector<ct_tensor> out(inputs, nullptr);
        char message[1024] = {0};
        const int32_t status = fn(context, &upstream, out.data(), static_cast<int64_t>(inputs), message, sizeof message);
        for (size_t i = 0; i < inputs; ++i) {
            if (out[i] != nullptr) {
                result[i] = std::move(out[i]->t);
                delete out[i];
            }
        }
        if (status != 0) throw std::runtime_error(message[0] ? message : "backward callback failed");
        for (size_t i = 0; i < inputs; ++i) {
            const auto &shape = shapes[i];
            if (result[i].defined() && result[i].sizes() != at::IntArrayRef(shape)) {
                throw std::runtime_error("backward callback returned gradient " + std::to_string(i) + " of shape " +
                                         c10::str(result[i].sizes()) + " for an input of shape " + c10::str(at::IntArrayRef(shape)));
            }
        }
        return result;
    }

    /// Each input's shape: a gradient of another shape is refused.
    std::vector<std::vector<int64_t>> shapes;
};

} // namespace

extern "C" {

ct_tensor ct_custom_function(ct_tensor value, const ct_tensor *inputs, int64_t n, ct_backward_fn backward, void *context,
                             ct_release_fn release) {
    // The node owns `context` from here: whatever happens, it is released exactly once.
    auto node = std::shared_ptr<HostNode>(new HostNode(backward, context, release, static_cast<size_t>(n < 0 ? 0 : n)),
                                          torch::autograd::deleteNode);
    return guard([&] {
        if (n < 0) throw std::invalid_argument("negative input count");
        std::vector<at::Tensor> ins;
        bool any = false;
        for (int64_t i = 0; i < n; ++i) {
            ins.push_back(T(inputs[i]));
            node->shapes.push_back(ins.back().sizes().vec());
            any = any || ins.back().requires_grad();
        }
        at::Tensor out = T(value).variable_data();
        if (!any || !at::GradMode::is_enabled()) return out;
        node->set_next_edges(torch::autograd::collect_next_edges(ins));
        torch::autograd::create_gradient_edge(out, node);
        return out;
    });
}

} // extern "C"
