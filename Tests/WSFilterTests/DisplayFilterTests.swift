import Testing
@testable import WSFilter
