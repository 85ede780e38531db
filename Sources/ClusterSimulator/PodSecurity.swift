import KubeClient

/// Pod Security admission for the `baseline` and `restricted` levels, every check of the Pod Security
/// Standards that applies to Linux pods (AppArmor, capabilities, host namespaces, hostPath volumes,
/// host ports, privileged, procMount, SELinux, seccomp, sysctls, volume types, allowPrivilegeEscalation,
/// runAsNonRoot, runAsUser 0), with the versioned lists pinned by `enforce-version`, refused in the API
/// server's words:
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
    static func refusal(podSpec: JSON, annotations: JSON? = nil, namespace: JSON?) -> String? {
        guard let namespace, let level = enforced(namespace) else { return nil }
        let found = violations(podSpec, annotations: annotations, level: level)
        return found.isEmpty ? nil : "violates PodSecurity \"\(level)\": \(found.joined(separator: ", "))"
    }

    /// The minor version a level's checks are taken from: `v1.30` is 30, `latest` the newest known.
    static func minor(_ level: String) -> Int {
        let version = level.split(separator: ":").last.map(String.init) ?? "latest"
        guard version != "latest", let minor = Int(version.split(separator: ".").last ?? "") else { return Int.max }
        return minor
    }

    /// Sysctls `baseline` allows, by the version that added them.
    static func safeSysctls(_ minor: Int) -> Set<String> {
        var names: Set<String> = ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                                  "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range"]
        if minor >= 27 { names.insert("net.ipv4.ip_local_reserved_ports") }
        if minor >= 29 { names.formUnion(["net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"]) }
        if minor >= 32 { names.formUnion(["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]) }
        return names
    }

    /// Volume sources `restricted` allows; any other source is a restricted volume type.
    static let restrictedVolumeSources: Set<String> = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]

    /// Each failed check as "reason (detail)", in the order the API server reports them: the baseline
    /// checks, then the restricted ones, a restricted check standing in for the baseline check it
    /// tightens (capabilities, hostPath and other volumes, seccomp).
    static func violations(_ spec: JSON, annotations: JSON? = nil, level: String) -> [String] {
        let restricted = level.hasPrefix("restricted:")
        let minor = minor(level)
        let containers = (spec["initContainers"]?.arrayValue ?? []) + (spec["containers"]?.arrayValue ?? [])
        let pod = spec["securityContext"] ?? [:]
        func name(_ container: JSON) -> String { container["name"]?.string ?? "" }
        func quoted(_ names: [String]) -> String { names.map { "\"\($0)\"" }.joined(separator: ", ") }
        func which(_ names: [String], podToo: Bool = false) -> String {
            (podToo ? "pod or " : "") + (names.count == 1 ? "container \(quoted(names))" : "containers \(quoted(names))")
        }
        /// "pod", "container \"a\"", "pod and containers \"a\", \"b\"".
        func setters(pod: Bool, _ names: [String]) -> String {
            ([pod ? "pod" : nil] + [names.isEmpty ? nil : (names.count == 1 ? "container " : "containers ") + quoted(names)]).compactMap { $0 }.joined(separator: " and ")
        }
        var found: [String] = []

        // baseline
        var appArmor: [String] = []
        for (key, value) in (annotations?.objectValue ?? [:]).sorted(by: { $0.key < $1.key })
        where key.hasPrefix("container.apparmor.security.beta.kubernetes.io/") {
            let profile = value.string ?? ""
            if !profile.isEmpty, profile != "runtime/default", !profile.hasPrefix("localhost/") { appArmor.append("\(key)=\"\(profile)\"") }
        }
        if pod.at("appArmorProfile", "type")?.string == "Unconfined" { appArmor.append("pod must not set AppArmor profile type to \"Unconfined\"") }
        for container in containers where container.at("securityContext", "appArmorProfile", "type")?.string == "Unconfined" {
            appArmor.append("container \"\(name(container))\" must not set AppArmor profile type to \"Unconfined\"")
        }
        if !appArmor.isEmpty { found.append("forbidden AppArmor \(appArmor.count == 1 ? "profile" : "profiles") (\(appArmor.joined(separator: ", ")))") }
        if !restricted {
            for container in containers {
                let added = (container.at("securityContext", "capabilities", "add")?.arrayValue ?? []).compactMap(\.string)
                    .filter { !baselineCapabilities.contains($0) }
                if !added.isEmpty {
                    found.append("non-default capabilities (container \"\(name(container))\" must not include \(quoted(added)) in securityContext.capabilities.add)")
                }
            }
        }
        let hostNamespaces = ["hostNetwork", "hostPID", "hostIPC"].filter { flag(spec[$0]) == true }
        if !hostNamespaces.isEmpty { found.append("host namespaces (\(hostNamespaces.map { "\($0)=true" }.joined(separator: ", ")))") }
        let hostPaths = (spec["volumes"]?.arrayValue ?? []).filter { $0["hostPath"] != nil }.compactMap { $0["name"]?.string }
        if !restricted, !hostPaths.isEmpty {
            found.append("hostPath volumes (\(hostPaths.count == 1 ? "volume" : "volumes") \(quoted(hostPaths)))")
        }
        for container in containers {
            let ports = (container["ports"]?.arrayValue ?? []).compactMap { $0["hostPort"]?.int }.filter { $0 != 0 }
            if !ports.isEmpty { found.append("hostPort (container \"\(name(container))\" uses \(ports.count == 1 ? "hostPort" : "hostPorts") \(ports.map(String.init).joined(separator: ", ")))") }
        }
        let privileged = containers.filter { flag($0.at("securityContext", "privileged")) == true }.map(name)
        if !privileged.isEmpty { found.append("privileged (\(which(privileged)) must not set securityContext.privileged=true)") }
        let unmasked = containers.filter { ($0.at("securityContext", "procMount")?.string ?? "Default") != "Default" }
        if !unmasked.isEmpty {
            let values = Array(Set(unmasked.compactMap { $0.at("securityContext", "procMount")?.string })).sorted()
            found.append("procMount (\(which(unmasked.map(name))) must not set securityContext.procMount to \(quoted(values)))")
        }
        var seLinuxTypes: Set<String> = ["", "container_t", "container_init_t", "container_kvm_t"]
        if minor >= 31 { seLinuxTypes.insert("container_engine_t") }
        var badTypes: Set<String> = [], setsUser = false, setsRole = false
        func seLinuxBad(_ options: JSON?) -> Bool {
            guard let options else { return false }
            var bad = false
            if let type = options["type"]?.string, !seLinuxTypes.contains(type) { badTypes.insert(type); bad = true }
            if !(options["user"]?.string ?? "").isEmpty { setsUser = true; bad = true }
            if !(options["role"]?.string ?? "").isEmpty { setsRole = true; bad = true }
            return bad
        }
        let podSELinux = seLinuxBad(pod["seLinuxOptions"])
        let seLinuxContainers = containers.filter { seLinuxBad($0.at("securityContext", "seLinuxOptions")) }.map(name)
        if podSELinux || !seLinuxContainers.isEmpty {
            var what: [String] = []
            if !badTypes.isEmpty { what.append("\(badTypes.count == 1 ? "type" : "types") \(quoted(badTypes.sorted()))") }
            if setsUser { what.append("user may not be set") }
            if setsRole { what.append("role may not be set") }
            found.append("seLinuxOptions (\(setters(pod: podSELinux, seLinuxContainers)) set forbidden securityContext.seLinuxOptions: \(what.joined(separator: "; ")))")
        }
        if !restricted {
            let podUnconfined = pod.at("seccompProfile", "type")?.string == "Unconfined"
            let unconfined = containers.filter { $0.at("securityContext", "seccompProfile", "type")?.string == "Unconfined" }.map(name)
            if podUnconfined || !unconfined.isEmpty {
                found.append("seccompProfile (\(setters(pod: podUnconfined, unconfined)) must not set securityContext.seccompProfile.type to \"Unconfined\")")
            }
        }
        let safe = safeSysctls(minor)
        let sysctls = (pod["sysctls"]?.arrayValue ?? []).compactMap { $0["name"]?.string }.filter { !safe.contains($0) }
        if !sysctls.isEmpty { found.append("forbidden sysctls (\(sysctls.joined(separator: ", ")))") }
        if !restricted, minor >= 31 {
            let gitRepos = (spec["volumes"]?.arrayValue ?? []).filter { $0["gitRepo"] != nil }.compactMap { $0["name"]?.string }
            if !gitRepos.isEmpty {
                found.append("restricted volume types (\(gitRepos.count == 1 ? "volume" : "volumes") \(quoted(gitRepos)) \(gitRepos.count == 1 ? "uses" : "use") restricted volume type \"gitRepo\")")
            }
        }
        guard restricted else { return found }

        // restricted
        let escalating = containers.filter { flag($0.at("securityContext", "allowPrivilegeEscalation")) != false }.map(name)
        if !escalating.isEmpty { found.append("allowPrivilegeEscalation != false (\(which(escalating)) must set securityContext.allowPrivilegeEscalation=false)") }
        let undropped = containers.filter { container in
            !(container.at("securityContext", "capabilities", "drop")?.arrayValue ?? []).contains(.string("ALL"))
        }.map(name)
        var adders: [String] = [], forbiddenAdds: [String] = []
        for container in containers {
            let added = (container.at("securityContext", "capabilities", "add")?.arrayValue ?? []).compactMap(\.string).filter { $0 != "NET_BIND_SERVICE" }
            if !added.isEmpty { adders.append(name(container)); forbiddenAdds += added.filter { !forbiddenAdds.contains($0) } }
        }
        var capabilityDetails: [String] = []
        if !undropped.isEmpty { capabilityDetails.append("\(which(undropped)) must set securityContext.capabilities.drop=[\"ALL\"]") }
        if !adders.isEmpty { capabilityDetails.append("\(which(adders)) must not include \(quoted(forbiddenAdds.sorted())) in securityContext.capabilities.add") }
        if !capabilityDetails.isEmpty { found.append("unrestricted capabilities (\(capabilityDetails.joined(separator: "; ")))") }
        var badVolumes: [String] = [], badSources: Set<String> = []
        for volume in spec["volumes"]?.arrayValue ?? [] {
            let sources = (volume.objectValue ?? [:]).keys.filter { $0 != "name" }
            guard !sources.contains(where: restrictedVolumeSources.contains) else { continue }
            badVolumes.append(volume["name"]?.string ?? "")
            badSources.insert(sources.first ?? "unknown")
        }
        if !badVolumes.isEmpty {
            found.append("restricted volume types (\(badVolumes.count == 1 ? "volume" : "volumes") \(quoted(badVolumes)) \(badVolumes.count == 1 ? "uses" : "use") \(badSources.count == 1 ? "restricted volume type" : "restricted volume types") \(quoted(badSources.sorted())))")
        }
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
