import Foundation
import Hummingbird

extension Gateway {
    func addEventRoutes(to api: RouterGroup<GatewayContext>) {}
}
