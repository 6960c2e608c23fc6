import ArgumentParser
import LatheModels

/// The `--depth` flags: a block count for the architectures that take one.
enum DepthOption {
    /// Refuses a depth out of range or for a model of fixed depth, naming the flag.
    static func check(_ depth: Int?, model: String, flag: String) throws {
        guard let depth else { return }
        guard ModelOptions.depths.contains(depth) else {
            throw ValidationError("\(flag) \(depth): expected an integer in \(ModelOptions.depths.lowerBound)...\(ModelOptions.depths.upperBound)")
        }
        guard Zoo.acceptsDepth(model) else {
            throw ValidationError("\(flag) \(depth): only the vit-* models take a depth; \(model) has a fixed one")
        }
    }
}
