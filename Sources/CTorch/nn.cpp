// Neural-network layers and losses.
#include "shim.hpp"

using namespace ctorch;

extern "C" {

namespace {
// A pointwise conv (1x1 kernel, stride 1, no padding, one group) on a float NCHW batch as one
// batched matrix product per sample, y_n = W · x_n (+ b): Debian's libtorch 1.13 runs such a conv
// through its generic convolution path, which on one thread took 4x as long as this product
// at [256, 26, 14, 14] -> 64 channels (benchmarks/factorize_layers.sh prints both). Same
// function, same autograd; only the summation order may differ (float rounding).
bool pointwise(const at::Tensor &x, const at::Tensor &w, const int64_t *stride, const int64_t *padding,
               const int64_t *dilation, int64_t groups) {
    return groups == 1 && x.dim() == 4 && w.dim() == 4 && w.size(2) == 1 && w.size(3) == 1 && x.size(1) == w.size(1) &&
           stride[0] == 1 && stride[1] == 1 && padding[0] == 0 && padding[1] == 0 && dilation[0] == 1 && dilation[1] == 1 &&
           x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && x.layout() == at::kStrided && !x.is_quantized();
}
}  // namespace

ct_tensor ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor b, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups) {
    return guard([&] {
        const at::Tensor &input = T(x), &weight = T(w);
        if (pointwise(input, weight, stride, padding, dilation, groups)) {
            const int64_t n = input.size(0), c = input.size(1), h = input.size(2), wd = input.size(3), o = weight.size(0);
            auto flat = input.reshape({n, c, h * wd});
            auto matrix = weight.reshape({o, c}).unsqueeze(0).expand({n, o, c});
            auto bias = opt(b);
            auto y = bias.has_value() && bias->defined() ? at::baddbmm(bias->reshape({1, o, 1}).expand({n, o, h * wd}), matrix, flat)
                                                         : at::bmm(matrix, flat);
            return y.view({n, o, h, wd});
        }
        return at::conv2d(input, weight, opt(b), dims(stride, 2), dims(padding, 2), dims(dilation, 2), groups);
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
