"""Issue 4 audit: a container's own /etc/hosts line is written as docker writes it (libnetwork's
makeHostsRecs): the FQDN (hostname.domainname, or a dotted hostname) first, then the bare hostname,
then composer's container name."""

from __future__ import annotations

from runtime.network.manager import _hosts_text, _members


def _own(hostname: str, domainname: str | None) -> str:
    doc = {"name": "demo-web-1", "hostname": hostname, "domainname": domainname,
           "attachments": [{"network": "n", "ipv4": "10.9.0.2", "ipv6": None}], "extra_hosts": []}
    lines = _hosts_text("a" * 64, doc, {}).splitlines()
    return next(ln for ln in lines if ln.startswith("10.9.0.2"))


def test_own_line_has_the_fqdn_then_the_bare_hostname() -> None:
    assert _own("web", None) == "10.9.0.2\tweb demo-web-1"
    assert _own("web", "example.org") == "10.9.0.2\tweb.example.org web demo-web-1"
    assert _own("web.corp", None) == "10.9.0.2\tweb.corp web demo-web-1"


def test_rows_written_before_domainname_was_stored_still_render() -> None:
    doc = {"name": "old-1", "hostname": "old", "attachments": [], "extra_hosts": []}
    assert "127.0.0.1\told old-1" in _hosts_text("b" * 64, doc, {}).splitlines()


def test_own_line_has_its_service_name_and_aliases_on_that_network() -> None:
    """docker's DNS answers a container's own service name and aliases inside it: a service that
    advertises its own name (kafka, a cluster's seed list) must reach itself by it."""
    doc = {"name": "demo-web-1", "hostname": "3f2a", "domainname": None, "extra_hosts": [],
           "attachments": [{"network": "n", "ipv4": "10.9.0.2", "ipv6": None, "aliases": ["web", "api"]},
                           {"network": "m", "ipv4": "10.9.1.2", "ipv6": None, "aliases": ["web"]}]}
    lines = _hosts_text("a" * 64, doc, {}).splitlines()
    assert "10.9.0.2\t3f2a demo-web-1 web api" in lines
    assert "10.9.1.2\t3f2a demo-web-1 web" in lines


def _doc(name: str, hostname: str, ip: str, aliases: list[str], **kw: object) -> dict[str, object]:
    return {"name": name, "hostname": hostname, "domainname": None, "extra_hosts": [],
            "attachments": [{"network": "n", "ipv4": ip, "ipv6": None, "aliases": aliases}], **kw}


def test_peer_line_has_the_names_docker_dns_gives_it() -> None:
    """moby's buildEndpointDNSNames: container name, aliases, short id and hostname."""
    web, cli = "a" * 64, "b" * 64
    docs = {web: _doc("demo-web-1", "webhost", "10.9.0.2", ["web"]),
            cli: _doc("demo-cli-1", cli[:12], "10.9.0.3", ["cli"])}
    lines = _hosts_text(cli, docs[cli], _members(docs)).splitlines()
    assert "10.9.0.2\tweb demo-web-1 aaaaaaaaaaaa webhost" in lines


def test_a_stopped_peer_is_left_out() -> None:
    web, cli = "a" * 64, "b" * 64
    docs = {web: _doc("demo-web-1", "webhost", "10.9.0.2", ["web"], stopped=True),
            cli: _doc("demo-cli-1", cli[:12], "10.9.0.3", ["cli"])}
    assert "10.9.0.2" not in _hosts_text(cli, docs[cli], _members(docs))


def test_extra_hosts_shadow_a_peers_name() -> None:
    """In docker /etc/hosts is read before the DNS that knows the peers: extra_hosts `web:IP` wins."""
    web, cli = "a" * 64, "b" * 64
    docs = {web: _doc("demo-web-1", "webhost", "10.9.0.2", ["web"]),
            cli: _doc("demo-cli-1", cli[:12], "10.9.0.3", ["cli"], extra_hosts=[["web", "192.0.2.9"]])}
    lines = _hosts_text(cli, docs[cli], _members(docs)).splitlines()
    assert lines[2] == "192.0.2.9\tweb"
    assert "10.9.0.2\tdemo-web-1 aaaaaaaaaaaa webhost" in lines
