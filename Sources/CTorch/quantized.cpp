// Real integer execution on libtorch's quantized engines (QNNPACK, oneDNN), reached through
// the dispatcher so that the shim depends only on the operator schemas.
#include "shim.hpp"
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>
#include <variant>

using namespace ctorch;

struct ct_packed_s {
    std::variant<c10::intrusive_ptr<LinearPackedParamsBase>, c10::intrusive_ptr<ConvPackedParamsBase<2>>> params;
};

static c10::List<int64_t> pair_list(const int64_t *p) { return c10::List<int64_t>({p[0], p[1]}); }

template <class F> static ct_packed guard_packed(F &&f) noexcept {
    try {
        return new ct_packed_s{f()};
    } catch (const c10::Error &e) {
        set_error(e.what_without_backtrace());
    } catch (const std::exception &e) {
        set_error(e.what());
    }
    return nullptr;
}

extern "C" {

int32_t ct_supported_qengines(int32_t *out, int32_t cap) {
    const auto &engines = at::globalContext().supportedQEngines();
    int32_t n = 0;
    for (auto e : engines) {
        if (e == at::QEngine::NoQEngine) continue;
        if (n < cap) out[n] = static_cast<int32_t>(e);
        ++n;
    }
    return n;
}
int32_t ct_set_qengine(int32_t engine) {
    return guard_status([&] { at::globalContext().setQEngine(static_cast<at::QEngine>(engine)); });
}
int32_t ct_get_qengine(void) { return static_cast<int32_t>(at::globalContext().qEngine()); }

ct_tensor ct_quantize_per_tensor(ct_tensor x, double scale, int64_t zp, int32_t dtype) {
    return guard([&] { return at::quantize_per_tensor(T(x), scale, zp, scalar_type(dtype)); });
}
ct_tensor ct_quantize_per_channel(ct_tensor x, ct_tensor scales, ct_tensor zps, int64_t axis, int32_t dtype) {
    return guard([&] { return at::quantize_per_channel(T(x), T(scales), T(zps), axis, scalar_type(dtype)); });
}
ct_tensor ct_dequantize(ct_tensor q) { return guard([&] { return T(q).dequantize(); }); }
ct_tensor ct_int_repr(ct_tensor q) { return guard([&] { return T(q).int_repr(); }); }
int32_t ct_q_params(ct_tensor q, double *scale, int64_t *zp) {
    return guard_status([&] {
        *scale = T(q).q_scale();
        *zp = T(q).q_zero_point();
    });
}

ct_packed ct_qlinear_prepack(ct_tensor w, ct_tensor bias) {
    return guard_packed([&] {
        static auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("quantized::linear_prepack", "")
                             .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
        return op.call(T(w), opt(bias));
    });
}
ct_packed ct_qconv2d_prepack(ct_tensor w, ct_tensor bias, const int64_t *stride, const int64_t *padding,
                             const int64_t *dilation, int64_t groups) {
    return guard_packed([&] {
        static auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("quantized::conv2d_prepack", "")
                             .typed<c10::intrusive_ptr<ConvPackedParamsBase<2>>(
                                 at::Tensor, c10::optional<at::Tensor>, c10::List<int64_t>, c10::List<int64_t>,
                                 c10::List<int64_t>, int64_t)>();
        return op.call(T(w), opt(bias), pair_list(stride), pair_list(padding), pair_list(dilation), groups);
    });
}
void ct_packed_free(ct_packed p) { delete p; }

ct_tensor ct_qlinear(ct_tensor x, ct_packed p, double scale, int64_t zp, bool relu) {
    return guard([&] {
        if (!p) throw std::invalid_argument("null packed weights");
        auto *params = std::get_if<c10::intrusive_ptr<LinearPackedParamsBase>>(&p->params);
        if (!params) throw std::invalid_argument("packed weights are not linear weights");
        return relu ? (*params)->apply_relu(T(x), scale, zp) : (*params)->apply(T(x), scale, zp);
    });
}
ct_tensor ct_qconv2d(ct_tensor x, ct_packed p, double scale, int64_t zp, bool relu) {
    return guard([&] {
        if (!p) throw std::invalid_argument("null packed weights");
        auto *params = std::get_if<c10::intrusive_ptr<ConvPackedParamsBase<2>>>(&p->params);
        if (!params) throw std::invalid_argument("packed weights are not conv2d weights");
        return relu ? (*params)->apply_relu(T(x), scale, zp) : (*params)->apply(T(x), scale, zp);
    });
}

int32_t ct_cpu_features(void) {
    int32_t f = 0;
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= CT_CPU_AVX2;
    if (__builtin_cpu_supports("avx512bw")) f |= CT_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vnni")) f |= CT_CPU_AVX512_VNNI;
    if (__builtin_cpu_supports("avxvnni")) f |= CT_CPU_AVX_VNNI;
#endif
    return f;
}

}
