import Foundation
import Hummingbird
import Logging
import NIOCore

/// Who is calling: the tenant a token belongs to, and that tenant's role.
public struct Caller: Sendable {
    public let tenantID: UUID
    public let tokenID: UUID
    public let isAdmin: Bool
}

/// The per-request context: the request ID every response carries, the client's address for the audit
/// trail, and the authenticated caller once the auth middleware has run.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var clientIP: String?
    public var caller: Caller?
    /// The connection, so that a long response (an event stream) notices at once when its client has
    /// gone: Hummingbird does not cancel a handler whose client disconnects.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientIP = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }

    /// The authenticated caller; routes under /api run behind the auth middleware, so it is set there.
    func requireCaller() throws -> Caller {
        guard let caller else { throw Problem.unauthorized() }
        return caller
    }
}
