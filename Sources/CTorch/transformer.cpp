// Transformer building blocks: layer normalisation and truncated-normal initialisation.
#include "shim.hpp"
#include <cmath>

using namespace ctorch;

extern "C" {

ct_tensor ct_layer_norm(ct_tensor x, int64_t normalized, ct_tensor weight, ct_tensor bias, double eps) {
    return guard([&] {
        const int64_t shape[] = {normalized};
        return at::layer_norm(T(x), dims(shape, 1), opt(weight), opt(bias), eps, /*cudnn_enable=*/false);
    });
}

int32_t ct_trunc_normal_(ct_tensor t, double mean, double std, double low, double high, ct_generator g) {
    return guard_status([&] {
        if (!(std > 0) || !(low < high)) throw std::invalid_argument("trunc_normal_: expected std > 0 and low < high");
        at::NoGradGuard no_grad;
        auto &x = T(t);
        // torch.nn.init.trunc_normal_: inverse-CDF sampling of the normal restricted to [low, high].
        auto cdf = [](double v) { return 0.5 * (1 + std::erf(v / std::sqrt(2.0))); };
        const double lo = cdf((low - mean) / std), hi = cdf((high - mean) / std);
        x.uniform_(2 * lo - 1, 2 * hi - 1, gen(g));
        x.erfinv_();
        x.mul_(std * std::sqrt(2.0));
        x.add_(mean);
        x.clamp_(low, high);
    });
}

}
