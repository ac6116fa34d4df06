"""Container networking: bridges, pinned network namespaces, IPAM, hosts files, published ports.

Public API: NetworkManager (Engine.networks). pyroute2 is imported only inside the functions that
do netlink work, so importing this package stays cheap.
"""

from runtime.network.manager import NetworkManager

__all__ = ["NetworkManager"]
