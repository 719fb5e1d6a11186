import Testing
@testable import WSApp

@Test func placeholder() { #expect(true) }
