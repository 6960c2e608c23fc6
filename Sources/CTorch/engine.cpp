#include "shim.hpp"
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>

namespace ctorch {
static thread_local std::string last_error;
void set_error(const char *message) { last_error = message ? message : ""; }
void clear_error() { last_error.clear(); }
} // namespace ctorch

using namespace ctorch;

extern "C" {

const char *ct_last_error(void) { return last_error.c_str(); }
void ct_set_num_threads(int32_t n) { at::set_num_threads(n > 0 ? n : 1); }
int32_t ct_get_num_threads(void) { return at::get_num_threads(); }
void ct_manual_seed(uint64_t seed) { at::manual_seed(seed); }
bool ct_set_grad_enabled(bool enabled) {
    bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(enabled);
    return previous;
}
bool ct_is_grad_enabled(void) { return at::GradMode::is_enabled(); }
const char *ct_version(void) { return TORCH_VERSION; }

ct_generator ct_generator_new(uint64_t seed) {
    try {
        auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
        return new ct_generator_s{g};
    } catch (const std::exception &e) {
        set_error(e.what());
        return nullptr;
    }
}
void ct_generator_free(ct_generator g) { delete g; }

}
