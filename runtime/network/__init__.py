"""Container networking: bridges, pinned network namespaces, IPAM, hosts files, published ports.

Public API: NetworkManager (Engine.networks). Standard library only: netlink through rtnl.py and
ioctls (ifconf.py), nftables through libnftables in process (nft.py; `nft -f` where only the
command exists); pyroute2's import alone would cost more than the whole per-container budget.
"""

from runtime.network.manager import NetworkManager

__all__ = ["NetworkManager"]
