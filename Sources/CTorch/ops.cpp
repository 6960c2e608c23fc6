// Element-wise, in-place, shape and reduction entry points.
#include "shim.hpp"

using namespace ctorch;

static at::Tensor unary(int32_t op, const at::Tensor &a) {
    switch (op) {
    case CT_NEG: return a.neg();
    case CT_ABS: return a.abs();
    case CT_SQRT: return a.sqrt();
    case CT_EXP: return a.exp();
    case CT_LOG: return a.log();
    case CT_SIGN: return a.sign();
    case CT_ROUND: return a.round();
    case CT_FLOOR: return a.floor();
    case CT_CEIL: return a.ceil();
    case CT_RELU: return at::relu(a);
    case CT_SIGMOID: return a.sigmoid();
    case CT_TANH: return a.tanh();
    case CT_GELU: return at::gelu(a);
    case CT_RECIPROCAL: return a.reciprocal();
    case CT_SQUARE: return a.square();
    case CT_ISFINITE: return a.isfinite();
    case CT_LOGICAL_NOT: return a.logical_not();
    case CT_CLONE: return a.clone();
    case CT_CONTIGUOUS: return a.contiguous();
    case CT_ZEROS_LIKE: return at::zeros_like(a);
    case CT_ONES_LIKE: return at::ones_like(a);
    case CT_ISNAN: return a.isnan();
    default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
    }
}

template <class B> static at::Tensor binary(int32_t op, const at::Tensor &a, const B &b) {
    switch (op) {
    case CT_ADD: return a.add(b);
    case CT_SUB: return a.sub(b);
    case CT_MUL: return a.mul(b);
    case CT_DIV: return a.div(b);
    case CT_POW: return a.pow(b);
    case CT_EQ: return a.eq(b);
    case CT_NE: return a.ne(b);
    case CT_LT: return a.lt(b);
    case CT_LE: return a.le(b);
    case CT_GT: return a.gt(b);
    case CT_GE: return a.ge(b);
    default: break;
    }
    if constexpr (std::is_same_v<B, at::Tensor>) {
        switch (op) {
        case CT_MAXIMUM: return at::maximum(a, b);
        case CT_MINIMUM: return at::minimum(a, b);
        case CT_MATMUL: return at::matmul(a, b);
        case CT_LOGICAL_AND: return a.logical_and(b);
        case CT_LOGICAL_OR: return a.logical_or(b);
        case CT_ATAN2: return a.atan2(b);
        default: break;
        }
    } else {
        switch (op) {
        case CT_MAXIMUM: return at::clamp_min(a, b);
        case CT_MINIMUM: return at::clamp_max(a, b);
        default: break;
        }
    }
    throw std::invalid_argument("binary op " + std::to_string(op) + " not supported for these operands");
}

template <class F> static int32_t pair(ct_tensor *values, ct_tensor *indices, F &&f) {
    return guard_status([&] {
        auto result = f();
        *values = wrap(std::get<0>(result));
        *indices = wrap(std::get<1>(result));
    });
}
extern "C" {

ct_tensor ct_unary(int32_t op, ct_tensor a) { return guard([&] { return unary(op, T(a)); }); }
ct_tensor ct_binary(int32_t op, ct_tensor a, ct_tensor b) { return guard([&] { return binary(op, T(a), T(b)); }); }
ct_tensor ct_binary_scalar(int32_t op, ct_tensor a, double b) {
    return guard([&] { return binary(op, T(a), at::Scalar(b)); });
}
ct_tensor ct_scalar_binary(int32_t op, double s, ct_tensor a) {
    return guard([&] {
        switch (op) {
        case CT_SUB: return at::rsub(T(a), s);
        case CT_DIV: return T(a).reciprocal().mul(s);
        case CT_POW: return at::pow(at::Scalar(s), T(a));
        default: throw std::invalid_argument("scalar-left op " + std::to_string(op) + " not supported");
        }
    });
}
ct_tensor ct_clamp(ct_tensor a, double lo, double hi) { return guard([&] { return T(a).clamp(lo, hi); }); }
ct_tensor ct_where(ct_tensor c, ct_tensor a, ct_tensor b) { return guard([&] { return at::where(T(c), T(a), T(b)); }); }
ct_tensor ct_to_dtype(ct_tensor a, int32_t dtype) { return guard([&] { return T(a).to(scalar_type(dtype)); }); }
ct_tensor ct_leaky_relu(ct_tensor a, double slope) { return guard([&] { return at::leaky_relu(T(a), slope); }); }
ct_tensor ct_hardtanh(ct_tensor a, double lo, double hi) { return guard([&] { return at::hardtanh(T(a), lo, hi); }); }

int32_t ct_add_(ct_tensor a, ct_tensor b, double alpha) { return guard_status([&] { T(a).add_(T(b), alpha); }); }
int32_t ct_mul_(ct_tensor a, ct_tensor b) { return guard_status([&] { T(a).mul_(T(b)); }); }
int32_t ct_mul_scalar_(ct_tensor a, double s) { return guard_status([&] { T(a).mul_(s); }); }
int32_t ct_add_scalar_(ct_tensor a, double s) { return guard_status([&] { T(a).add_(s); }); }
int32_t ct_addcmul_(ct_tensor a, ct_tensor b, ct_tensor c, double v) { return guard_status([&] { T(a).addcmul_(T(b), T(c), v); }); }
int32_t ct_addcdiv_(ct_tensor a, ct_tensor b, ct_tensor c, double v) { return guard_status([&] { T(a).addcdiv_(T(b), T(c), v); }); }
int32_t ct_copy_(ct_tensor dst, ct_tensor src) { return guard_status([&] { T(dst).copy_(T(src)); }); }
int32_t ct_fill_(ct_tensor a, double v) { return guard_status([&] { T(a).fill_(v); }); }
int32_t ct_clamp_(ct_tensor a, double lo, double hi) { return guard_status([&] { T(a).clamp_(lo, hi); }); }
int32_t ct_lerp_(ct_tensor a, ct_tensor b, double w) { return guard_status([&] { T(a).lerp_(T(b), w); }); }

ct_tensor ct_reshape(ct_tensor a, const int64_t *s, int64_t n) { return guard([&] { return T(a).reshape(dims(s, n)); }); }
ct_tensor ct_permute(ct_tensor a, const int64_t *d, int64_t n) { return guard([&] { return T(a).permute(dims(d, n)); }); }
ct_tensor ct_transpose(ct_tensor a, int64_t d0, int64_t d1) { return guard([&] { return T(a).transpose(d0, d1); }); }
ct_tensor ct_flatten(ct_tensor a, int64_t s, int64_t e) { return guard([&] { return T(a).flatten(s, e); }); }
ct_tensor ct_unsqueeze(ct_tensor a, int64_t d) { return guard([&] { return T(a).unsqueeze(d); }); }
ct_tensor ct_squeeze(ct_tensor a, int64_t d) { return guard([&] { return T(a).squeeze(d); }); }
ct_tensor ct_expand(ct_tensor a, const int64_t *s, int64_t n) { return guard([&] { return T(a).expand(dims(s, n)); }); }

static std::vector<at::Tensor> list(const ct_tensor *ts, int64_t n) {
    std::vector<at::Tensor> v;
    v.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v.push_back(T(ts[i]));
    return v;
}
ct_tensor ct_cat(const ct_tensor *ts, int64_t n, int64_t d) { return guard([&] { return at::cat(list(ts, n), d); }); }
ct_tensor ct_stack(const ct_tensor *ts, int64_t n, int64_t d) { return guard([&] { return at::stack(list(ts, n), d); }); }
ct_tensor ct_narrow(ct_tensor a, int64_t d, int64_t s, int64_t l) { return guard([&] { return T(a).narrow(d, s, l); }); }
ct_tensor ct_index_select(ct_tensor a, int64_t d, ct_tensor i) { return guard([&] { return T(a).index_select(d, T(i)); }); }
ct_tensor ct_gather(ct_tensor a, int64_t d, ct_tensor i) { return guard([&] { return T(a).gather(d, T(i)); }); }
ct_tensor ct_masked_fill(ct_tensor a, ct_tensor m, double v) { return guard([&] { return T(a).masked_fill(T(m), v); }); }
ct_tensor ct_masked_select(ct_tensor a, ct_tensor m) { return guard([&] { return T(a).masked_select(T(m)); }); }
ct_tensor ct_one_hot(ct_tensor l, int64_t c) { return guard([&] { return at::one_hot(T(l), c); }); }

ct_tensor ct_reduce(int32_t op, ct_tensor a, const int64_t *d, int64_t nd, bool keepdim) {
    return guard([&] {
        auto &x = T(a);
        std::vector<int64_t> all;
        if (nd == 0) {
            for (int64_t i = 0; i < x.dim(); ++i) all.push_back(i);
        } else {
            all.assign(d, d + nd);
        }
        at::IntArrayRef r(all);
        switch (op) {
        case CT_SUM: return x.sum(r, keepdim);
        case CT_MEAN: return x.mean(r, keepdim);
        case CT_AMAX: return x.amax(r, keepdim);
        case CT_AMIN: return x.amin(r, keepdim);
        case CT_PROD:
            if (nd == 0) return x.prod();
            if (nd != 1) throw std::invalid_argument("prod reduces one dim at a time");
            return x.prod(all[0], keepdim);
        case CT_VAR: return x.var(r, /*unbiased=*/false, keepdim);
        case CT_STD: return x.std(r, /*unbiased=*/false, keepdim);
        case CT_NORM2: return at::linalg_vector_norm(x, 2, r, keepdim);
        case CT_NORM1: return at::linalg_vector_norm(x, 1, r, keepdim);
        default: throw std::invalid_argument("unknown reduction " + std::to_string(op));
        }
    });
}
ct_tensor ct_argmax(ct_tensor a, int64_t d, bool k) { return guard([&] { return T(a).argmax(d, k); }); }

int32_t ct_topk(ct_tensor a, int64_t k, int64_t d, bool largest, ct_tensor *v, ct_tensor *i) {
    return pair(v, i, [&] { return T(a).topk(k, d, largest, true); });
}
int32_t ct_sort(ct_tensor a, int64_t d, bool desc, ct_tensor *v, ct_tensor *i) {
    return pair(v, i, [&] { return T(a).sort(/*stable=*/true, d, desc); });
}
int32_t ct_kthvalue(ct_tensor a, int64_t k, int64_t d, ct_tensor *v, ct_tensor *i) {
    return pair(v, i, [&] { return T(a).kthvalue(k, d); });
}
ct_tensor ct_cumsum(ct_tensor a, int64_t d) { return guard([&] { return T(a).cumsum(d); }); }
ct_tensor ct_softmax(ct_tensor a, int64_t d) { return guard([&] { return T(a).softmax(d); }); }
ct_tensor ct_log_softmax(ct_tensor a, int64_t d) { return guard([&] { return T(a).log_softmax(d); }); }

}
