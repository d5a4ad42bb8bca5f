"""The demo's own HTTP gateway: a fresh bearer token and a registry naming only its hash.

The worker learns the gateway from ``DETOXMON_INGEST__GATEWAYS`` (inline YAML) and keeps only
the token's SHA-256; the token itself stays in the demo process, as a gateway would hold it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class DemoGateway:
    """A gateway allowed to publish for one ward."""

    id: str
    ward: str
    token: str

    @classmethod
    def fresh(cls, *, ward: str, gateway_id: str = "demo-telehealth-app") -> DemoGateway:
        """A gateway with a new random token."""
        return cls(id=gateway_id, ward=ward, token=secrets.token_urlsafe(32))

    def registry(self) -> str:
        """The registry document the worker loads (token hash only)."""
        digest = hashlib.sha256(self.token.encode("utf-8")).hexdigest()
        document = {"gateways": [{"id": self.id, "token_sha256": digest, "wards": [self.ward]}]}
        return yaml.safe_dump(document, sort_keys=False)

    def env(self) -> dict[str, str]:
        """The worker's environment for this gateway."""
        return {"DETOXMON_INGEST__GATEWAYS": self.registry()}

    def headers(self) -> dict[str, str]:
        """Request headers of a JSON message from this gateway."""
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
