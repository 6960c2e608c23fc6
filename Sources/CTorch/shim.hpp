// Internal helpers shared by the shim's translation units: handle conversion and the
// exception firewall that turns every C++ exception into a thread-local message.
#pragma once
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <string>
#include <vector>
#include "ctorch.h"

struct ct_tensor_s { at::Tensor t; };
struct ct_generator_s { at::Generator g; };

namespace ctorch {

void set_error(const char *message);
void clear_error();

inline at::Tensor &T(ct_tensor h) {
    if (h == nullptr) throw std::invalid_argument("null tensor handle");
    return h->t;
}
inline c10::optional<at::Tensor> opt(ct_tensor h) {
    if (h == nullptr) return c10::nullopt;
    return h->t;
}
inline c10::optional<at::Generator> gen(ct_generator g) {
    if (g == nullptr) return c10::nullopt;
    return g->g;
}
inline at::IntArrayRef dims(const int64_t *p, int64_t n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }
inline ct_tensor wrap(at::Tensor t) { return new ct_tensor_s{std::move(t)}; }

/// Runs f, converting exceptions to the thread-local error. Returns a new handle or NULL.
template <class F> ct_tensor guard(F &&f) noexcept {
    try {
        return wrap(f());
    } catch (const c10::Error &e) {
        set_error(e.what_without_backtrace());
    } catch (const std::exception &e) {
        set_error(e.what());
    } catch (...) {
        set_error("unknown C++ exception in libtorch");
    }
    return nullptr;
}

/// Runs f for its side effects. Returns 0 on success, 1 on failure.
template <class F> int32_t guard_status(F &&f) noexcept {
    try {
        f();
        return 0;
    } catch (const c10::Error &e) {
        set_error(e.what_without_backtrace());
    } catch (const std::exception &e) {
        set_error(e.what());
    } catch (...) {
        set_error("unknown C++ exception in libtorch");
    }
    return 1;
}

inline at::ScalarType scalar_type(int32_t dtype) {
    switch (dtype) {
    case CT_UINT8: case CT_INT8: case CT_INT16: case CT_INT32: case CT_INT64:
    case CT_FLOAT16: case CT_FLOAT32: case CT_FLOAT64: case CT_BOOL:
    case CT_QINT8: case CT_QUINT8: case CT_QINT32:
        return static_cast<at::ScalarType>(dtype);
    default:
        throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
    }
}

} // namespace ctorch
