import WSDissector
import WSReassembly

/// Caps and limits for one analysis run.
public struct AnalyzerOptions: Sendable {
    public var dissector: DissectorLimits
    public var reassembly: ReassemblyLimits

    public init(dissector: DissectorLimits = DissectorLimits(), reassembly: ReassemblyLimits = ReassemblyLimits()) {
        self.dissector = dissector
        self.reassembly = reassembly
    }
}
