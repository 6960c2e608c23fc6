import Foundation
import Testing
import LatheData
import LatheModels
import LatheTensor
import LatheTestSupport
@testable import LatheTrain

/// A checkpoint's metadata and tensors are checked against the architecture before anything
/// of the model's size is allocated: a 1 MB file never costs gigabytes.
@Suite("Checkpoint validation")
struct CheckpointValidationTests {
    /// A saved `mlp` whose stored file is then edited by `edit`; returns its path.
    private func editedCheckpoint(_ dir: URL, _ edit: (inout SafeTensors) -> Void) throws -> String {
        let path = dir.appendingPathComponent("m.safetensors").path
        try Checkpoint.save(try Zoo.make("mlp", seed: 1), to: path)
        var file = try SafeTensors.read(path: path)
        edit(&file)
        try file.write(path: path)
        return path
    }

    private func options(_ json: String) -> (inout SafeTensors) -> Void {
        { $0.metadata["lathe.options"] = json }
    }

    @Test(arguments: [
        (#"{"classCount":10,"imageSize":4294967296,"inputChannels":1,"width":1}"#, "imageSize 4294967296"),
        (#"{"classCount":10,"imageSize":1500,"inputChannels":1,"width":1}"#, "imageSize 1500"),
        (#"{"classCount":10,"imageSize":28,"inputChannels":4611686018427387904,"width":1}"#, "inputChannels 4611686018427387904"),
        (#"{"classCount":9223372036854775807,"imageSize":28,"inputChannels":1,"width":1}"#, "classCount 9223372036854775807"),
    ])
    func optionsOutOfRangeAreRefusedNamingTheOption(json: String, named: String) throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try editedCheckpoint(dir, options(json))
        let (error, growth) = try PeakMemory.growth { #expect(throws: TrainingError.self) { try Checkpoint.load(path) } }
        let text = error?.description ?? ""
        #expect(text.hasPrefix(path) && text.contains("lathe.options") && text.contains(named), "\(text)")
        #expect(growth < 256 << 20, "peak resident memory grew by \(growth >> 20) MB")
    }

    /// imageSize 1000 is in range, but the stored fc1 was trained for 28×28: the mismatch is
    /// found without building a 1.2 GB fc1.
    @Test func storedShapesAreComparedBeforeTheModelIsAllocated() throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try editedCheckpoint(dir, options(#"{"classCount":10,"imageSize":1000,"inputChannels":1,"width":1}"#))
        let (error, growth) = try PeakMemory.growth { #expect(throws: TrainingError.self) { try Checkpoint.load(path) } }
        #expect(error?.description == "\(path): tensor 'fc1.weight' has shape [300, 784], expected [300, 1000000]")
        #expect(growth < 256 << 20, "peak resident memory grew by \(growth >> 20) MB")
    }

    @Test func aTensorStoredWithAnotherElementTypeIsRefused() throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try editedCheckpoint(dir) { $0.tensors["fc2.weight"]?.dtype = .I32 }
        let error = #expect(throws: TrainingError.self) { try Checkpoint.load(path) }
        #expect(error?.description == "\(path): tensor 'fc2.weight' has element type int32, expected float32")
    }

    @Test func anUnknownArchitectureNamesItsKey() throws {
        let dir = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try editedCheckpoint(dir) { $0.metadata["lathe.architecture"] = "vgg" }
        let error = #expect(throws: TrainingError.self) { try Checkpoint.load(path) }
        #expect(error?.description.contains("'lathe.architecture'") == true && error?.description.contains("vgg") == true, "\(String(describing: error))")
    }
}
