// Neural-network layers and losses.
#include "shim.hpp"

using namespace ctorch;

extern "C" {

ct_tensor ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor b, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups) {
    return guard([&] {
        return at::conv2d(T(x), T(w), opt(b), dims(stride, 2), dims(padding, 2), dims(dilation, 2), groups);
    });
}
ct_tensor ct_im2col(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    return guard([&] { return at::im2col(T(x), dims(kernel, 2), {1, 1}, dims(padding, 2), dims(stride, 2)); });
}
ct_tensor ct_linear(ct_tensor x, ct_tensor w, ct_tensor b) {
    return guard([&] { return at::linear(T(x), T(w), opt(b)); });
}
ct_tensor ct_batch_norm(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor rm, ct_tensor rv, bool training,
                        double momentum, double eps) {
    return guard([&] {
        return at::batch_norm(T(x), opt(weight), opt(bias), opt(rm), opt(rv), training, momentum, eps,
                              /*cudnn_enabled=*/false);
    });
}
ct_tensor ct_avg_pool2d(ct_tensor x, const int64_t *k, const int64_t *s, const int64_t *p) {
    return guard([&] { return at::avg_pool2d(T(x), dims(k, 2), dims(s, 2), dims(p, 2)); });
}
ct_tensor ct_adaptive_avg_pool2d(ct_tensor x, int64_t h, int64_t w) {
    return guard([&] { return at::adaptive_avg_pool2d(T(x), {h, w}); });
}
ct_tensor ct_cross_entropy(ct_tensor logits, ct_tensor labels, double smoothing) {
    return guard([&] {
        return at::cross_entropy_loss(T(logits), T(labels), {}, at::Reduction::Mean, -100, smoothing);
    });
}
ct_tensor ct_mse_loss(ct_tensor a, ct_tensor b) { return guard([&] { return at::mse_loss(T(a), T(b)); }); }
ct_tensor ct_kl_div(ct_tensor log_input, ct_tensor target) {
    return guard([&] {
        auto &x = T(log_input);
        return at::kl_div(x, T(target), at::Reduction::Sum).div(x.size(0));
    });
}

}
