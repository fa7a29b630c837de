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


# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or the host's own stack
# may deliver to: NAT64's well-known prefix (RFC 6052; a gateway in this network translates it,
# from this network's side), SIIT's IPv4-translated ::ffff:0:a.b.c.d (RFC 2765) and the deprecated
# IPv4-compatible ::a.b.c.d (RFC 4291). ::ffff:a.b.c.d, 6to4 and Teredo are read by ipaddress.
IPV4_IN_LAST_32_BITS = tuple(ipaddress.IPv6Network(prefix)
                             for prefix in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96"))
# NAT64 local-use (RFC 8215): a prefix of the operator's own translator, where RFC 6052 may place
# the IPv4 address at several offsets. It names no public host: refused whole.
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, translated, 6to4, Teredo), or None.
    ISATAP interface ids (::5efe:a.b.c.d) are not read: such an address is routed by its prefix,
    to the prefix owner's site, so a global one reaches no network of ours."""
    if not isinstance(ip, ipaddress.IPv6Address) or ip.is_loopback or ip.is_unspecified:  # ::1, ::
        return None
    if ip.teredo:
        return ip.teredo[1]  # the client's address; the server's is only a relay
    if any(ip in prefix for prefix in IPV4_IN_LAST_32_BITS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.ipv4_mapped or ip.sixtofour


def is_public(ip: IPAddress) -> bool:
    """A globally routed unicast address; addresses embedding an IPv4 one (IPv4-mapped, NAT64,
    SIIT, IPv4-compatible, 6to4, Teredo) are judged by the one they embed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip in NAT64_LOCAL_USE:
        return False
    embedded = embedded_ipv4(ip)
    if embedded is not None:
        return is_public(embedded)
    return ip.is_global and not ip.is_multicast


def refusal(host: str, ip: IPAddress) -> str:
    """Why `host` may not be reached through `ip`, naming the address a translated form hides."""
    if isinstance(ip, ipaddress.IPv6Address) and ip in NAT64_LOCAL_USE:
        why = f" ({ip} is in the NAT64 local-use prefix {NAT64_LOCAL_USE})"
    elif embedded_ipv4(ip) is not None:
        why = f" ({ip} stands for {embedded_ipv4(ip)})"
    else:
        why = ""
    return f"{host} is not a public address{why}. {HOW_TO_ALLOW}"


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
                    raise RuntimeError(f"PROVIDER_ALLOWED_HOSTS: {entry!r} is not a valid CIDR "
                                       "network") from None
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
        refused = [ip for ip in addresses if not self.allows(host, port, ip)]
        if refused:
            raise AddressRefused(refusal(host, refused[0]))
        if not addresses:
            raise AddressRefused(f"{host} has no address.")
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
