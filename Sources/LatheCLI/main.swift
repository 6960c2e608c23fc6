import Foundation

// libgomp reads its wait policy once, when it loads (before main). On this 2-vCPU machine kind
// neither of its two defaults suits libtorch's many small parallel regions: spinning workers
// (the default: 300k spins, ~30 billion with ACTIVE) make 2-thread LeNet-5 training slower than
// 1 thread, and sleeping ones (PASSIVE) pay a wake-up per region. A bounded spin of 1000
// measured best (2 threads, one LeNet-5 epoch: ~11k img/s passive, 16-20k with 1000 spins).
// Unless the user chose a policy, re-execute once with it.
let environment = ProcessInfo.processInfo.environment
if environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil {
    setenv("OMP_WAIT_POLICY", "ACTIVE", 1)
    setenv("GOMP_SPINCOUNT", "1000", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv only returns on failure: carry on with libgomp's defaults.
}
Lathe.main()
