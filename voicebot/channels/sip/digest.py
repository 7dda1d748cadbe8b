"""HTTP digest authentication for SIP (RFC 2617, RFC 7616 SHA-256, RFC 8760), no I/O.

Used when the bot registers to, or calls through, a trunk that challenges with 401/407.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from .message import split_list

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256, "SHA-512-256": lambda b=b"": hashlib.new("sha512_256", b)}


class DigestError(ValueError):
    """A challenge the bot cannot answer."""


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "digest":
            raise DigestError(f"unsupported auth scheme {scheme!r} (only Digest)")
        params: dict[str, str] = {}
        for part in split_list(rest):
            name, _, value = part.partition("=")
            value = value.strip()
            if value.startswith('"') and value.endswith('"'):
                value = value[1:-1]
            params[name.strip().lower()] = value
        if "nonce" not in params or "realm" not in params:
            raise DigestError("challenge without realm or nonce")
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm not in _HASHES:
            raise DigestError(f"unsupported digest algorithm {algorithm} (MD5, SHA-256, SHA-512-256)")
        qop = tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip())
        return cls(params["realm"], params["nonce"], algorithm, qop, params.get("opaque"), params.get("stale", "").lower() == "true")


def _h(algorithm: str, text: str) -> str:
    return _HASHES[algorithm](text.encode()).hexdigest()


def digest_response(
    challenge: Challenge, *, username: str, password: str, method: str, uri: str, nc: int = 1, cnonce: str | None = None
) -> str:
    """The Authorization / Proxy-Authorization header value answering ``challenge``."""
    alg = challenge.algorithm
    ha1 = _h(alg, f"{username}:{challenge.realm}:{password}")
    ha2 = _h(alg, f"{method}:{uri}")
    fields = [f'username="{username}"', f'realm="{challenge.realm}"', f'nonce="{challenge.nonce}"', f'uri="{uri}"']
    if "auth" in challenge.qop:
        cnonce = cnonce or secrets.token_hex(8)
        ncs = f"{nc:08x}"
        response = _h(alg, f"{ha1}:{challenge.nonce}:{ncs}:{cnonce}:auth:{ha2}")
        fields += [f'response="{response}"', f"algorithm={alg}", f'cnonce="{cnonce}"', "qop=auth", f"nc={ncs}"]
    elif challenge.qop:
        raise DigestError(f"unsupported qop {','.join(challenge.qop)} (only auth)")
    else:
        response = _h(alg, f"{ha1}:{challenge.nonce}:{ha2}")
        fields += [f'response="{response}"', f"algorithm={alg}"]
    if challenge.opaque is not None:
        fields.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(fields)
