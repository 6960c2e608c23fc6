import Foundation
import LatheModels
import LatheONNX

// libgomp and OpenBLAS read their threading settings once, when they load (before main). On
// this 2-vCPU machine kind the defaults of both suit libtorch's many small parallel regions badly:
// - libgomp: spinning workers (the default: 300k spins, ~30 billion with ACTIVE) make 2-thread
//   LeNet-5 training slower than 1 thread, and sleeping ones (PASSIVE) pay a wake-up per region.
//   A bounded spin of 1000 measured best (2 threads, one LeNet-5 epoch: ~11k img/s passive,
//   16-20k with 1000 spins).
// - OpenBLAS (the pthread build Debian's libtorch loads) keeps its own worker pool, whose idle
//   workers spin on sched_yield for 2^28 cycles after every GEMM, taking the CPU the OpenMP
//   workers of the next convolution need: 2-thread epochs then swing between 13k and 21k img/s.
//   The shortest timeout (2^4 cycles: idle workers sleep at once) keeps BLAS parallel without it.
// Settings the user made are kept; the rest are set and the process re-executes once.
let environment = ProcessInfo.processInfo.environment
var threadingDefaults: [(String, String)] = []
if environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil {
    threadingDefaults += [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "1000")]
}
if environment["OPENBLAS_THREAD_TIMEOUT"] == nil { threadingDefaults.append(("OPENBLAS_THREAD_TIMEOUT", "4")) }
if !threadingDefaults.isEmpty {
    for (key, value) in threadingDefaults { setenv(key, value, 1) }
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv only returns on failure: carry on with the libraries' defaults.
}
// `--model file.onnx` in every command and sweep: model files are imported with LatheONNX.
Zoo.fileImporter = { path in try ONNXImporter.read(path).model() }
Lathe.main()
