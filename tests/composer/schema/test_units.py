"""Durations, byte sizes and port specs parse and print as docker compose's Go libraries do."""
# ruff: noqa: E501  (tables of inline YAML read better on one line)

from __future__ import annotations

import pytest

from composer.loader.units import (
    PortBinding,
    UnitError,
    format_duration,
    normalize_duration,
    parse_bytes,
    parse_duration,
    parse_port_spec,
)


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        ("90s", "1m30s"),
        ("1500ms", "1.5s"),
        ("1h2m", "1h2m0s"),
        ("1.5ms", "1.5ms"),
        ("250us", "250µs"),
        ("3d", "72h0m0s"),
        ("1w", "168h0m0s"),
        ("0", "0s"),
        ("10ns", "10ns"),
        ("2h45m30.5s", "2h45m30.5s"),
    ],
)
def test_duration_prints_as_go_time_duration(raw: str, printed: str) -> None:
    assert normalize_duration(raw) == printed


def test_duration_is_nanoseconds() -> None:
    assert parse_duration("1m30s") == 90 * 10**9
    assert format_duration(-1_500_000_000) == "-1.5s"


@pytest.mark.parametrize("raw", ["10", "10x", "", "1h2", "s", "10 seconds"])
def test_duration_without_valid_unit_is_rejected(raw: str) -> None:
    with pytest.raises(UnitError, match="duration"):
        parse_duration(raw)


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ("1g", 1 << 30),
        ("64m", 64 << 20),
        ("512", 512),
        (1024, 1024),
        ("1.5k", 1536),
        ("2gb", 2 << 30),
        ("1KiB", 1024),
    ],
)
def test_byte_sizes_use_binary_multipliers(raw: object, size: int) -> None:
    assert parse_bytes(raw) == size


@pytest.mark.parametrize("raw", ["1x", "k", "-1m", "1.2.3m", True])
def test_bad_byte_size_is_rejected(raw: object) -> None:
    with pytest.raises(UnitError, match="invalid size"):
        parse_bytes(raw)


def test_port_ranges_pair_up() -> None:
    assert parse_port_spec("127.0.0.1:9000-9001:90-91/udp") == [
        PortBinding(90, "9000", "127.0.0.1", "udp"),
        PortBinding(91, "9001", "127.0.0.1", "udp"),
    ]


def test_single_target_keeps_host_range() -> None:
    assert parse_port_spec("8000-8002:80") == [PortBinding(80, "8000-8002", "", "tcp")]


def test_ports_sort_as_strings_like_compose() -> None:
    assert [b.target for b in parse_port_spec("98-101")] == [100, 101, 98, 99]


def test_ipv6_host_ip_in_brackets() -> None:
    assert parse_port_spec("[::1]:53:53/udp") == [PortBinding(53, "53", "::1", "udp")]


def test_empty_host_port_is_unpublished() -> None:
    assert parse_port_spec("1.2.3.4::99") == [PortBinding(99, "", "1.2.3.4", "tcp")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("99999:80", "invalid host port '99999'"),
        ("8080-8081:80-82", "invalid ranges"),
        ("80-70:80", "invalid port range '80-70'"),
        ("1.2.3:80:80", "invalid ip address '1.2.3'"),
        ("80/icmp", "invalid protocol 'icmp'"),
        ("x:80", "invalid host port 'x'"),
    ],
)
def test_bad_port_spec_names_the_value(spec: str, message: str) -> None:
    with pytest.raises(UnitError, match=message):
        parse_port_spec(spec)
