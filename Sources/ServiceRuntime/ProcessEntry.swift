import Foundation
import Logging

/// How every executable starts and fails: configuration problems and start-up failures end the process
/// with one line on standard error naming the cause (exit 2 and 1), never a crash trace.
public enum ProcessEntry {
    public static func run(_ program: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch let error as ConfigurationError {
            fail(program, "configuration error: \(error)", code: 2)
        } catch {
            fail(program, "cannot start: \(error)", code: 1)
        }
    }

    public static func fail(_ program: String, _ message: String, code: Int32) -> Never {
        let line = "\(program): \(message.replacingOccurrences(of: "\n", with: " "))\n"
        FileHandle.standardError.write(Data(line.utf8))
        exit(code)
    }
}
