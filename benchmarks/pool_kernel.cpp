// Benchmark: Lathe's max-pool kernel (Sources/CTorch/pool.cpp) vs ATen's max_pool2d on the same
// libtorch, forward and forward+backward, on LeNet-5's two pooling inputs at batch 128.
// Built and run by benchmarks/pool_kernel.sh.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include "ctorch.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

struct ct_tensor_s { at::Tensor t; };

static double median_us(const std::function<void()> &f, int runs) {
    for (int i = 0; i < 5; i++) f();
    std::vector<double> t;
    for (int i = 0; i < runs; i++) {
        auto start = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    at::set_num_threads(threads);
    const int64_t k[2] = {2, 2}, s[2] = {2, 2}, p[2] = {0, 0};
    std::printf("max pool 2x2/2, float32, %d thread(s), median of 200 runs (microseconds)\n", threads);
    std::printf("  %-22s %9s %9s %7s   %9s %9s %7s\n", "input", "aten fwd", "lathe", "speedup", "aten f+b", "lathe", "speedup");
    for (auto shape : std::vector<std::vector<int64_t>>{{128, 6, 28, 28}, {128, 16, 10, 10}}) {
        at::Tensor x = at::relu(at::randn(shape)).requires_grad_(true);
        ct_tensor_s handle{x};
        at::Tensor g = at::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
        using Pool = ct_tensor (*)(ct_tensor, const int64_t *, const int64_t *, const int64_t *);
        auto forward = [&](Pool pool, bool grad) {
            return [&, pool, grad] {
                at::AutoGradMode mode(grad);
                ct_tensor y = pool(&handle, k, s, p);
                if (y == nullptr) { std::fprintf(stderr, "%s\n", ct_last_error()); std::exit(1); }
                if (grad) torch::autograd::grad({y->t}, {x}, {g});
                ct_free(y);
            };
        };
        const double af = median_us(forward(ct_max_pool2d_aten, false), 200), lf = median_us(forward(ct_max_pool2d, false), 200);
        const double ab = median_us(forward(ct_max_pool2d_aten, true), 200), lb = median_us(forward(ct_max_pool2d, true), 200);
        char name[64];
        std::snprintf(name, sizeof name, "%ldx%ldx%ldx%ld", (long)shape[0], (long)shape[1], (long)shape[2], (long)shape[3]);
        std::printf("  %-22s %9.0f %9.0f %6.1fx   %9.0f %9.0f %6.1fx\n", name, af, lf, af / lf, ab, lb, ab / lb);
    }
    return 0;
}
