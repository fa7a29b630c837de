"""Which provider addresses a tenant's credential may reach.

A tenant's key holder chooses a credential's base_url, so without a check the service would
connect wherever they say: internal services, cloud metadata, loopback ports. Tenant
credentials may reach public addresses only, plus what the operator allows with
PROVIDER_ALLOWED_HOSTS (comma-separated `host`, `host:port` or CIDR entries). The check runs
when a credential is saved (a clear 422) and again at connect time against every address the
name resolves to (DNS rebinding, odd spellings of loopback). The operator's own provider
(OPENAI_BASE_URL) is not checked."""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# inet_aton's legacy IPv4 spellings: 2130706433, 0177.0.0.1, 0x7f.1 all mean 127.0.0.1.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "https": 443}
HOW_TO_ALLOW = ("The operator can allow it with PROVIDER_ALLOWED_HOSTS (comma-separated host, host:port or "
                "CIDR entries, e.g. PROVIDER_ALLOWED_HOSTS=ollama.internal:11434,10.0.0.0/8).")


class AddressRefused(Exception):
    """A provider address this service may not connect to for a tenant."""


def parse_ip(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling a resolver accepts; None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def normalize_host(host: str) -> str:
    ip = parse_ip(host)
    return str(ip) if ip is not None else host.lower().rstrip(".")


def is_public(ip: IPAddress) -> bool:
    """A globally routed unicast address; addresses embedding another (IPv4-mapped, 6to4,
    Teredo) are judged by the one they embed."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not ip.is_multicast


@dataclass
class AddressPolicy:
    """PROVIDER_ALLOWED_HOSTS, parsed."""

    hosts: set[tuple[str, int | None]] = field(default_factory=set)
    networks: list = field(default_factory=list)

    @classmethod
    def parse(cls, setting: str | None) -> "AddressPolicy":
        policy = cls()
        for entry in (setting or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            if "/" in entry:
                try:
                    policy.networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise RuntimeError(f"PROVIDER_ALLOWED_HOSTS: {entry!r} is not a valid CIDR network") from None
                continue
            host, port = entry, None
            bracketed = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", entry)
            if bracketed:
                host, port = bracketed.group(1), bracketed.group(2)
            elif entry.count(":") == 1:
                host, port = entry.split(":")
            if port is not None and not (str(port).isdigit() and 0 < int(port) < 65536):
                raise RuntimeError(f"PROVIDER_ALLOWED_HOSTS: {entry!r} has an invalid port")
            policy.hosts.add((normalize_host(host), int(port) if port is not None else None))
        return policy

    def allows(self, host: str, port: int, ip: IPAddress) -> bool:
        if is_public(ip):
            return True
        for name in {normalize_host(host), str(ip)}:
            if (name, None) in self.hosts or (name, port) in self.hosts:
                return True
        return any(ip.version == network.version and ip in network for network in self.networks)

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, all allowed; AddressRefused otherwise. A failed
        lookup raises OSError (socket.gaierror), as a connect would."""
        literal = parse_ip(host)
        if literal is not None:
            addresses = [literal]
        else:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses or not all(self.allows(host, port, ip) for ip in addresses):
            raise AddressRefused(f"{host} is not a public address. {HOW_TO_ALLOW}")
        return list(dict.fromkeys(str(ip) for ip in addresses))

    def check_url(self, url: str) -> str | None:
        """Why a tenant may not use this base_url, or None. A name that does not resolve now
        passes: it is checked again at every connect."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return "Must be an http:// or https:// URL with a host."
        if parts.username is not None or parts.password is not None:
            return "Must not carry a user name or password: store the key in api_key."
        if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
            return "Must not have a query string or fragment: the API paths are appended to it."
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            return "Has an invalid port."
        try:
            self.resolve(parts.hostname, port)
        except AddressRefused as refused:
            return str(refused)
        except (OSError, UnicodeError):
            return None
        return None
