"""HL7 v2 ORU^R01 test messages, as an IHE PCD-01 gateway sends them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def hl7_time(moment: datetime) -> str:
    """An HL7 TS with seconds and a UTC offset."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def oru_r01(
    patient_id: str,
    *,
    heart_rate: float | str = 88,
    device_id: str = "bm-ward3-01",
    observed_at: datetime | None = None,
    control_id: str | None = None,
    status: str = "F",
) -> bytes:
    """One heart-rate OBX for one patient, segments separated by CR (no MLLP framing)."""
    at = hl7_time(observed_at or datetime.now(UTC) - timedelta(minutes=1))
    control = control_id or uuid.uuid4().hex[:20]
    segments = [
        f"MSH|^~\\&|GW-WARD3^0012345678ABCDEF^EUI-64|WARD3|DETOXMON||{at}||ORU^R01^ORU_R01|"
        f"{control}|P|2.6",
        f"PID|||{patient_id}^^^DETOXMON^PI",
        f"OBR|1|||182777000^monitoring of patient^SCT|||{at}",
        f"OBX|1|NM|8867-4^Heart rate^LN||{heart_rate}|/min^/min^UCUM|||||{status}|||{at}"
        f"||||{device_id}",
    ]
    return ("\r".join(segments) + "\r").encode()


def msa(ack: bytes) -> list[str]:
    """The MSA segment's fields of an (unframed) ACK: [MSA, MSA-1, MSA-2, ...]."""
    for segment in ack.decode().split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")
    raise AssertionError(f"no MSA segment in {ack!r}")


def err_text(ack: bytes) -> str:
    """ERR-8 (the error's text) of an ACK, or '' without an ERR segment."""
    for segment in ack.decode().split("\r"):
        if segment.startswith("ERR|"):
            fields = segment.split("|")
            return fields[8] if len(fields) > 8 else ""
    return ""
