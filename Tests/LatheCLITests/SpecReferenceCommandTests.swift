import Foundation
import LatheTestSupport
import Testing

/// `lathe sweep --spec-reference`: what scripts/gen-spec-doc.sh writes to docs/sweep-spec.md.
@Suite("lathe sweep --spec-reference")
struct SpecReferenceCommandTests {
    @Test func printsTheCommittedReference() throws {
        let r = try CLIRunner.run(["sweep", "--spec-reference"])
        #expect(r.status == 0, "\(r.stderr)")
        let committed = try String(contentsOf: SourceTree.root.appendingPathComponent("docs/sweep-spec.md"), encoding: .utf8)
        let same = r.stdout == committed
        #expect(same, "docs/sweep-spec.md is out of date: run scripts/gen-spec-doc.sh")
        #expect(r.stdout.contains("| `calibration_batches` | integer | `8` | 1 … 100000 |"))
    }

    @Test func aSweepWithoutASpecIsRefused() throws {
        let r = try CLIRunner.run(["sweep"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("missing the sweep spec"), "\(r.stderr)")
    }
}
