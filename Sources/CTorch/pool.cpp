// Max pooling with non-overlapping windows (kernel == stride, no padding, no dilation, floor
// mode: every LeNet/ConvNet-style 2x2 pool), as a dedicated CPU kernel with its own autograd node.
//
// Why: Debian's libtorch 1.13 runs NCHW max_pool2d_with_indices at ~4.5 ns per input element
// (2.8 ms for a 128x6x28x28 batch on one core, a quarter of a LeNet-5 training step). This
// kernel does the same work in a few hundred microseconds. It is exact: the scan order and the
// rule `val > max || isnan(val)` are ATen's (cpu_max_pool in MaxPoolKernel.cpp), so outputs,
// the chosen index on ties and NaN propagation, and therefore gradients, are bitwise equal to
// at::max_pool2d's (tested against it in PoolKernelTests). Anything else goes to ATen.
#include "shim.hpp"
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

using namespace ctorch;

namespace {

/// Whether the fast kernel applies: float CPU tensor, 3-D or 4-D, windows that tile the input.
bool tiles(const at::Tensor &x, at::IntArrayRef k, at::IntArrayRef s, at::IntArrayRef p) {
    return x.device().is_cpu() && !x.is_quantized() && x.layout() == at::kStrided &&
           (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) && (x.dim() == 3 || x.dim() == 4) &&
           k.size() == 2 && s.size() == 2 && p.size() == 2 && k[0] == s[0] && k[1] == s[1] && p[0] == 0 &&
           p[1] == 0 && k[0] >= 1 && k[1] >= 1 && k[0] * k[1] <= 256 && x.size(-2) >= k[0] && x.size(-1) >= k[1] &&
           x.numel() > 0;
}

/// Runs body(c) for every plane c in [0, planes), split across the intra-op threads in chunks
/// of about 16k outputs.
template <class F> void for_each_plane(int64_t planes, int64_t outputs_per_plane, const F &body) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, outputs_per_plane));
    at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; c++) body(c);
    });
}

/// One output row of a 2x2 float pool with SSE2 (x86-64's baseline), four outputs at a time:
/// the window's elements a b / c d are taken in that order with ATen's rule
/// `v > best || isnan(v)`; starting from best = a is the same as starting from -inf.
/// Returns how many outputs it wrote; the caller finishes the row.
int64_t pool_row_2x2(const float *r0, const float *r1, float *out, uint8_t *where, int64_t OW) {
#if defined(__SSE2__)
    int64_t ow = 0;
    for (; ow + 4 <= OW; ow += 4) {
        const __m128 r0lo = _mm_loadu_ps(r0 + 2 * ow), r0hi = _mm_loadu_ps(r0 + 2 * ow + 4);
        const __m128 r1lo = _mm_loadu_ps(r1 + 2 * ow), r1hi = _mm_loadu_ps(r1 + 2 * ow + 4);
        const __m128 v[4] = {_mm_shuffle_ps(r0lo, r0hi, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm_shuffle_ps(r0lo, r0hi, _MM_SHUFFLE(3, 1, 3, 1)),
                             _mm_shuffle_ps(r1lo, r1hi, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm_shuffle_ps(r1lo, r1hi, _MM_SHUFFLE(3, 1, 3, 1))};
        __m128 best = v[0];
        __m128i arg = _mm_setzero_si128();
        for (int k = 1; k < 4; k++) {
            const __m128 take = _mm_or_ps(_mm_cmpgt_ps(v[k], best), _mm_cmpunord_ps(v[k], v[k]));
            best = _mm_or_ps(_mm_and_ps(take, v[k]), _mm_andnot_ps(take, best));
            const __m128i t = _mm_castps_si128(take);
            arg = _mm_or_si128(_mm_and_si128(t, _mm_set1_epi32(k)), _mm_andnot_si128(t, arg));
        }
        _mm_storeu_ps(out + ow, best);
        if (where) {
            alignas(16) int32_t codes[4];
            _mm_store_si128(reinterpret_cast<__m128i *>(codes), arg);
            for (int k = 0; k < 4; k++) where[ow + k] = static_cast<uint8_t>(codes[k]);
        }
    }
    return ow;
#else
    (void)r0; (void)r1; (void)out; (void)where; (void)OW;
    return 0;
#endif
}

/// Forward over contiguous planes; `where` receives each output's window offset (row-major,
/// 0 ..< kh*kw) when non-null. Each output sees its window in row-major order with ATen's
/// update rule; ATen's scalar loop is slow because a max over real data mispredicts about half
/// its branches, so this one selects without branching (and 2x2 float pools use SSE2).
template <class S>
void pool_forward(const S *in, S *out, uint8_t *where, int64_t planes, int64_t H, int64_t W, int64_t kh, int64_t kw) {
    const int64_t OH = H / kh, OW = W / kw;
    for_each_plane(planes, OH * OW, [&](int64_t c) {
        const S *plane = in + c * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            S *o = out + c * OH * OW + oh * OW;
            uint8_t *w = where ? where + c * OH * OW + oh * OW : nullptr;
            int64_t ow = 0;
            if constexpr (std::is_same_v<S, float>) {
                if (kh == 2 && kw == 2) ow = pool_row_2x2(plane + 2 * oh * W, plane + (2 * oh + 1) * W, o, w, OW);
            }
            for (; ow < OW; ow++) {
                const S *window = plane + oh * kh * W + ow * kw;
                S best = -std::numeric_limits<S>::infinity();
                int32_t arg = 0;
                for (int64_t i = 0; i < kh; i++) {
                    for (int64_t j = 0; j < kw; j++) {
                        const S v = window[i * W + j];
                        const bool take = (v > best) | (v != v);
                        best = take ? v : best;
                        arg = take ? static_cast<int32_t>(i * kw + j) : arg;
                    }
                }
                o[ow] = best;
                if (w) w[ow] = static_cast<uint8_t>(arg);
            }
        }
    });
}

/// The backward of one output row of a 2x2 float pool with SSE2, four outputs at a time: the
/// two input rows get 0 + g at each window's chosen element and zeros elsewhere. Returns how
/// many outputs it handled; the caller finishes the row.
int64_t unpool_row_2x2(const float *g, const uint8_t *where, float *r0, float *r1, int64_t OW) {
#if defined(__SSE2__)
    int64_t ow = 0;
    const __m128 zero = _mm_setzero_ps();
    for (; ow + 4 <= OW; ow += 4) {
        const __m128 v = _mm_add_ps(zero, _mm_loadu_ps(g + ow));
        int32_t packed;
        std::memcpy(&packed, where + ow, 4);
        const __m128i bytes = _mm_cvtsi32_si128(packed);
        const __m128i codes = _mm_unpacklo_epi16(_mm_unpacklo_epi8(bytes, _mm_setzero_si128()), _mm_setzero_si128());
        const __m128 a = _mm_and_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(codes, _mm_set1_epi32(0))), v);
        const __m128 b = _mm_and_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(codes, _mm_set1_epi32(1))), v);
        const __m128 c = _mm_and_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(codes, _mm_set1_epi32(2))), v);
        const __m128 d = _mm_and_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(codes, _mm_set1_epi32(3))), v);
        _mm_storeu_ps(r0 + 2 * ow, _mm_unpacklo_ps(a, b));
        _mm_storeu_ps(r0 + 2 * ow + 4, _mm_unpackhi_ps(a, b));
        _mm_storeu_ps(r1 + 2 * ow, _mm_unpacklo_ps(c, d));
        _mm_storeu_ps(r1 + 2 * ow + 4, _mm_unpackhi_ps(c, d));
    }
    return ow;
#else
    (void)g; (void)where; (void)r0; (void)r1; (void)OW;
    return 0;
#endif
}

/// Backward in one pass over the input gradient: each window gets the output gradient at its
/// chosen element and zeros elsewhere (rows and columns no window covers are zeroed), so the
/// gradient is not first cleared and then scattered into.
template <class S>
void pool_backward(const S *gout, const uint8_t *where, S *gin, int64_t planes, int64_t H, int64_t W, int64_t kh,
                   int64_t kw) {
    const int64_t OH = H / kh, OW = W / kw;
    for_each_plane(planes, OH * OW, [&](int64_t c) {
        const S *g = gout + c * OH * OW;
        const uint8_t *w = where + c * OH * OW;
        S *plane = gin + c * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t first = 0;  // outputs of this row already handled by the 2x2 SSE2 path
            if constexpr (std::is_same_v<S, float>) {
                if (kh == 2 && kw == 2)
                    first = unpool_row_2x2(g + oh * OW, w + oh * OW, plane + 2 * oh * W, plane + (2 * oh + 1) * W, OW);
            }
            for (int64_t i = 0; i < kh; i++) {
                S *row = plane + (oh * kh + i) * W;
                for (int64_t ow = first; ow < OW; ow++) {
                    const int64_t a = w[oh * OW + ow] - i * kw;  // in [0, kw) when the choice is on this row
                    // 0 + g, not g: ATen accumulates into zeros, which turns -0 into +0.
                    const S v = S(0) + g[oh * OW + ow];
                    for (int64_t j = 0; j < kw; j++) row[ow * kw + j] = a == j ? v : S(0);
                }
                for (int64_t x = OW * kw; x < W; x++) row[x] = S(0);
            }
        }
        for (int64_t y = OH * kh; y < H; y++) std::fill(plane + y * W, plane + (y + 1) * W, S(0));
    });
}

/// Runs the forward kernel; returns the output and (when `keep_where`) the window offsets.
std::pair<at::Tensor, at::Tensor> run_forward(const at::Tensor &input, int64_t kh, int64_t kw, bool keep_where) {
    const at::Tensor x = input.contiguous();
    const int64_t H = x.size(-2), W = x.size(-1), planes = x.numel() / (H * W);
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape[shape.size() - 2] = H / kh;
    shape[shape.size() - 1] = W / kw;
    at::Tensor out = at::empty(shape, x.options());
    at::Tensor where = keep_where ? at::empty(shape, x.options().dtype(at::kByte)) : at::Tensor();
    uint8_t *w = keep_where ? where.data_ptr<uint8_t>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lathe_max_pool2d", [&] {
        pool_forward<scalar_t>(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), w, planes, H, W, kh, kw);
    });
    return {out, where};
}

/// The backward pass as ATen ops (a scatter of the output gradient), for create_graph
/// (double backward): slower, but itself differentiable.
at::Tensor differentiable_backward(const at::Tensor &g, const at::Tensor &where, const std::vector<int64_t> &shape,
                                   int64_t kh, int64_t kw) {
    const int64_t H = shape[shape.size() - 2], W = shape[shape.size() - 1], OH = H / kh, OW = W / kw;
    const auto index_options = where.options().dtype(at::kLong);
    const at::Tensor a = where.to(at::kLong);
    const at::Tensor rows = at::arange(OH, index_options).mul_(kh).view({OH, 1});
    const at::Tensor cols = at::arange(OW, index_options).mul_(kw).view({1, OW});
    const at::Tensor flat = (rows + at::floor_divide(a, kw)) * W + cols + at::remainder(a, kw);
    const int64_t planes = g.numel() / (OH * OW);
    const at::Tensor zeros = at::zeros({planes, H * W}, g.options());
    return zeros.scatter(1, flat.reshape({planes, OH * OW}), g.reshape({planes, OH * OW})).view(shape);
}

struct TiledMaxPool : public torch::autograd::Function<TiledMaxPool> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, int64_t kh, int64_t kw) {
        auto [out, where] = run_forward(x, kh, kw, /*keep_where=*/true);
        ctx->save_for_backward({where});
        ctx->saved_data["kh"] = kh;
        ctx->saved_data["kw"] = kw;
        ctx->saved_data["shape"] = x.sizes().vec();
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list grads) {
        const at::Tensor where = ctx->get_saved_variables()[0];
        const int64_t kh = ctx->saved_data["kh"].toInt(), kw = ctx->saved_data["kw"].toInt();
        const std::vector<int64_t> shape = ctx->saved_data["shape"].toIntVector();
        const at::Tensor g = grads[0].contiguous();
        const int64_t H = shape[shape.size() - 2], W = shape[shape.size() - 1];
        if (g.requires_grad()) return {differentiable_backward(g, where, shape, kh, kw), at::Tensor(), at::Tensor()};
        at::Tensor gin = at::empty(shape, g.options());
        const int64_t planes = gin.numel() / (H * W);
        AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "lathe_max_pool2d_backward", [&] {
            pool_backward<scalar_t>(g.data_ptr<scalar_t>(), where.data_ptr<uint8_t>(), gin.data_ptr<scalar_t>(), planes,
                                    H, W, kh, kw);
        });
        return {gin, at::Tensor(), at::Tensor()};
    }
};

} // namespace

extern "C" {

ct_tensor ct_max_pool2d(ct_tensor x, const int64_t *k, const int64_t *s, const int64_t *p) {
    return guard([&] {
        const at::Tensor &input = T(x);
        const auto kernel = dims(k, 2), stride = dims(s, 2), padding = dims(p, 2);
        if (!tiles(input, kernel, stride, padding)) return at::max_pool2d(input, kernel, stride, padding);
        if (at::GradMode::is_enabled() && input.requires_grad()) return TiledMaxPool::apply(input, kernel[0], kernel[1]);
        return run_forward(input, kernel[0], kernel[1], /*keep_where=*/false).first;
    });
}

ct_tensor ct_max_pool2d_aten(ct_tensor x, const int64_t *k, const int64_t *s, const int64_t *p) {
    return guard([&] { return at::max_pool2d(T(x), dims(k, 2), dims(s, 2), dims(p, 2)); });
}

} // extern "C"
