import Testing
@testable import WSApp
