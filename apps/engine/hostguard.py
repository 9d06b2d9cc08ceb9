"""The host's INPUT chain, which Docker leaves open: the rule that closes
the host to app containers, applied from a short-lived container.
"""

from __future__ import annotations

from apps.engine import containers, docker_api
from apps.engine.errors import EngineError

# The host's INPUT chain, which Docker leaves open: a container reaches every
# host listener bound to 0.0.0.0 through its bridge's gateway address. One
# chain, jumped to for packets coming in on Berth's bridges, lets replies
# (the proxy's and health checks' connections to the app) and the front
# proxy's ports through and refuses the rest. iptables-restore --noflush
# rewrites just that chain, in one step (never open half-way, no rule left
# from an older port); the jump is added only when missing.
GUARD_CHAIN = "BERTH-APPS"
GUARD_SCRIPT = """set -e
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
iptables-restore -w --noflush <<'RULES'
*filter
:{chain} - [0:0]
-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
{allow}
-A {chain} -p tcp -j REJECT --reject-with tcp-reset
-A {chain} -j DROP
COMMIT
RULES
iptables -w -C INPUT -i {interfaces}+ -j {chain} 2>/dev/null \\
  || iptables -w -I INPUT -i {interfaces}+ -j {chain}
"""


def guard_host(image: str, interfaces: str, allow_tcp_ports: list[int]) -> None:
    """Refuse new connections from bridges named `interfaces`* to the host
    itself, but for `allow_tcp_ports`. Runs the host's own iptables (the one
    dockerd uses) from a throwaway container in the host's network namespace
    with the host's root mounted read-only and chrooted into, so it works the
    same when Berth runs on the host (`make run`) and when it drives the
    engine from a container through the socket (compose). Needs an engine
    that can grant NET_ADMIN (not rootless) and iptables on the host."""
    allow = "\n".join(
        f"-A {GUARD_CHAIN} -p tcp --dport {int(port)} -j RETURN"
        for port in sorted(set(allow_tcp_ports))
    )
    script = GUARD_SCRIPT.format(chain=GUARD_CHAIN, interfaces=interfaces, allow=allow)
    code, output = _on_host(image, script)
    if code != 0:
        raise EngineError(
            f"Closing the host to app containers failed (exit code {code}): {output.strip()[-500:]}"
        )


def host_rules(image: str) -> list[str]:
    """The host's INPUT chain and Berth's own, as `iptables -S` prints them."""
    code, output = _on_host(image, f"iptables -w -S INPUT; iptables -w -S {GUARD_CHAIN} || true")
    if code != 0:
        raise EngineError(f"Reading the host's iptables rules failed: {output.strip()[-500:]}")
    return output.splitlines()


def _on_host(image: str, script: str) -> tuple[int, str]:
    """Run a shell script in the host's network namespace and root file
    system (read-only), as root with only the capabilities iptables needs."""
    return containers.run_once(
        image,
        ["chroot", "/host", "sh", "-c", script],
        timeout=60,
        user="0",  # chroot and iptables need root, whatever user the image names
        network_mode="host",
        cap_drop=["ALL"],
        cap_add=["NET_ADMIN", "NET_RAW", "SYS_CHROOT"],
        mounts=[docker_api.Mount(target="/host", source="/", type="bind", read_only=True)],
    )
