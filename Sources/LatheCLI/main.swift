import Foundation

// libgomp reads OMP_WAIT_POLICY once, when it loads (before main). Its default, spinning
// workers, makes 2-thread training 1.7x slower than 1 thread on this 2-vCPU machine kind
// (LeNet-5: 9.7k vs 16.6k img/s; passive: 16.3k img/s). Unless the user chose a policy,
// re-execute once with the passive policy.
if ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
    let arguments = CommandLine.unsafeArgv
    execv("/proc/self/exe", arguments)
    // execv only returns on failure: carry on with the default policy.
}
Lathe.main()
