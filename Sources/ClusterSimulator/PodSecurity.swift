import KubeClient

/// Pod Security admission for the `baseline` and `restricted` levels, the checks the store charts and
/// their Jobs touch (privileged, host namespaces, host ports, hostPath volumes, capabilities,
/// allowPrivilegeEscalation, runAsNonRoot, runAsUser 0, seccomp), refused in the API server's words:
/// `violates PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false (container "web" must
/// set securityContext.allowPrivilegeEscalation=false), …`. The level comes from the namespace's
/// `pod-security.kubernetes.io/enforce` label and its version from `enforce-version` (default latest).
enum PodSecurity {
    static func flag(_ value: JSON?) -> Bool? {
        switch value {
        case .bool(let flag)?: flag
        default: nil
        }
    }

    /// Capabilities `baseline` allows to be added (the container runtime's defaults).
    static let baselineCapabilities: Set<String> = [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    ]

    /// The enforced level and version, "restricted:v1.30", or nil for none (or privileged).
    static func enforced(_ namespace: JSON) -> String? {
        let labels = namespace.at("metadata", "labels")
        guard let level = labels?["pod-security.kubernetes.io/enforce"]?.string, level == "baseline" || level == "restricted" else { return nil }
        return "\(level):\(labels?["pod-security.kubernetes.io/enforce-version"]?.string ?? "latest")"
    }

    /// "violates PodSecurity …" for a pod spec in this namespace, or nil when it passes (or the
    /// namespace enforces nothing, or `privileged`).
    static func refusal(podSpec: JSON, namespace: JSON?) -> String? {
        guard let namespace, let level = enforced(namespace) else { return nil }
        let found = violations(podSpec, restricted: level.hasPrefix("restricted:"))
        return found.isEmpty ? nil : "violates PodSecurity \"\(level)\": \(found.joined(separator: ", "))"
    }

    static func violations(_ spec: JSON, restricted: Bool) -> [String] {
        let containers = (spec["initContainers"]?.arrayValue ?? []) + (spec["containers"]?.arrayValue ?? [])
        let pod = spec["securityContext"] ?? [:]
        func name(_ container: JSON) -> String { container["name"]?.string ?? "" }
        func which(_ names: [String], podToo: Bool = false) -> String {
            let quoted = names.map { "\"\($0)\"" }.joined(separator: ", ")
            return (podToo ? "pod or " : "") + (names.count == 1 ? "container \(quoted)" : "containers \(quoted)")
        }
        var found: [String] = []

        // baseline, in the order the API server reports its checks
        for container in containers {
            let added = (container.at("securityContext", "capabilities", "add")?.arrayValue ?? []).compactMap(\.string)
                .filter { !baselineCapabilities.contains($0) }
            if !added.isEmpty {
                found.append("non-default capabilities (container \"\(name(container))\" must not include \(added.map { "\"\($0)\"" }.joined(separator: ", ")) in securityContext.capabilities.add)")
            }
        }
        let hostNamespaces = ["hostNetwork", "hostPID", "hostIPC"].filter { flag(spec[$0]) == true }
        if !hostNamespaces.isEmpty { found.append("host namespaces (\(hostNamespaces.map { "\($0)=true" }.joined(separator: ", ")))") }
        let hostPaths = (spec["volumes"]?.arrayValue ?? []).filter { $0["hostPath"] != nil }.compactMap { $0["name"]?.string }
        if !hostPaths.isEmpty {
            found.append("hostPath volumes (\(hostPaths.count == 1 ? "volume" : "volumes") \(hostPaths.map { "\"\($0)\"" }.joined(separator: ", ")))")
        }
        for container in containers {
            let ports = (container["ports"]?.arrayValue ?? []).compactMap { $0["hostPort"]?.int }.filter { $0 != 0 }
            if !ports.isEmpty { found.append("hostPort (container \"\(name(container))\" uses \(ports.count == 1 ? "hostPort" : "hostPorts") \(ports.map(String.init).joined(separator: ", ")))") }
        }
        let privileged = containers.filter { flag($0.at("securityContext", "privileged")) == true }.map(name)
        if !privileged.isEmpty { found.append("privileged (\(which(privileged)) must not set securityContext.privileged=true)") }
        guard restricted else { return found }

        // restricted
        let escalating = containers.filter { flag($0.at("securityContext", "allowPrivilegeEscalation")) != false }.map(name)
        if !escalating.isEmpty { found.append("allowPrivilegeEscalation != false (\(which(escalating)) must set securityContext.allowPrivilegeEscalation=false)") }
        let undropped = containers.filter { container in
            !(container.at("securityContext", "capabilities", "drop")?.arrayValue ?? []).contains(.string("ALL"))
        }.map(name)
        if !undropped.isEmpty { found.append("unrestricted capabilities (\(which(undropped)) must set securityContext.capabilities.drop=[\"ALL\"])") }
        let podNonRoot = flag(pod["runAsNonRoot"]) == true
        let rootable = containers.filter { container in
            let own = flag(container.at("securityContext", "runAsNonRoot"))
            return own == false || (own == nil && !podNonRoot)
        }.map(name)
        if !rootable.isEmpty { found.append("runAsNonRoot != true (\(which(rootable, podToo: !podNonRoot)) must set securityContext.runAsNonRoot=true)") }
        let rootUsers = containers.filter { $0.at("securityContext", "runAsUser")?.int == 0 }.map(name)
        if pod["runAsUser"]?.int == 0 || !rootUsers.isEmpty {
            found.append("runAsUser=0 (\(rootUsers.isEmpty ? "pod" : which(rootUsers)) must not set runAsUser=0)")
        }
        let allowedSeccomp: Set<String> = ["RuntimeDefault", "Localhost"]
        let podSeccomp = pod.at("seccompProfile", "type")?.string
        let unconfined = containers.filter { container in
            let own = container.at("securityContext", "seccompProfile", "type")?.string
            return own.map { !allowedSeccomp.contains($0) } ?? !(podSeccomp.map(allowedSeccomp.contains) ?? false)
        }.map(name)
        if !unconfined.isEmpty {
            found.append("seccompProfile (\(which(unconfined, podToo: podSeccomp == nil)) must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")")
        }
        return found
    }
}
