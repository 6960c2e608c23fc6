#include "shim.hpp"
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>
#include <dlfcn.h>

namespace ctorch {
static thread_local std::string last_error;
void set_error(const char *message) { last_error = message ? message : ""; }
void clear_error() { last_error.clear(); }
} // namespace ctorch

using namespace ctorch;

extern "C" {

const char *ct_last_error(void) { return last_error.c_str(); }
// libtorch's thread count does not reach the BLAS it was linked with: Debian's libtorch calls
// OpenBLAS (pthread build), whose own pool has one worker per CPU whatever at::set_num_threads
// says, so a "1-thread" run still multiplied linear layers on every CPU (fc1 of convnet at batch
// 256: 1.6 ms on the machine's 2 CPUs vs 2.8 ms on one). The BLAS gets the same count, when it
// is OpenBLAS (found at run time; another BLAS keeps its own setting).
void ct_set_num_threads(int32_t n) {
    const int32_t threads = n > 0 ? n : 1;
    at::set_num_threads(threads);
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(threads);
}
int32_t ct_blas_threads(void) {
    using GetThreads = int (*)(void);
    auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    return get ? get() : -1;
}
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
