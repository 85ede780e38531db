import CLIKit
import Foundation

// The CLI's logic is in CLIKit, so that its tests can parse and run commands in-process.
exit(Storefleet.run(Array(CommandLine.arguments.dropFirst())))
