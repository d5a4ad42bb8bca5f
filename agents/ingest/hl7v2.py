"""HL7 v2 ``ORU^R01`` from bedside-monitor gateways (IHE PCD-01) into the event contract.

Library: python-hl7 (``hl7``). It parses any v2.x message without a version table, forgives
the vendor deviations monitors send (missing OBR, Z-segments, empty set ids), parses one ORU
in well under a millisecond, and ships the asyncio MLLP codec the listener can use. hl7apy was
tried on the same PCD-01 messages: its strict mode refused a plain ORU without group finding,
it refuses versions it has no tables for (2.9), and it took about 25 times longer per message;
its group tree is not needed, since an OBX belongs to the OBR before it. Neither ships type
hints, so the import is marked for mypy.

What is read, per PCD-01: PID-3 (first component) as the pseudonymous patient id; OBX-3 the
MDC or LOINC code; OBX-5 the value (NM); OBX-6 the unit (MDC or UCUM); OBX-11 the result
status; OBX-14, else OBR-7, else MSH-7 the time; OBX-18 the device. PID-5 (name) and PID-7
(birth date) are never read, and no detail ever quotes a PID field.

A time without a UTC offset is refused rather than read as local or UTC time: a guessed zone
could shift a reading by hours, reorder it against doses and assessments, or put it in the
future. Readings of one patient by one device at one time become one observation set (see
:mod:`agents.ingest.fhir`, whose code tables and assembly this module shares).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import hl7  # type: ignore[import-untyped]

from agents.contract import ContractError
from agents.ingest.formats import Conversion, Rejection
from agents.ingest.vitalsets import (
    LOINC_MEASURES,
    MDC_MEASURES,
    MDC_REFIDS,
    GroupKey,
    Measure,
    ObservationSet,
    Reading,
    Vital,
    build_observation,
    canonical_value,
    event_id_for,
    is_device_id,
    is_patient_id,
    mdc_unit,
    shown,
    ucum_unit,
)
from schemas import InboundEvent
from schemas.common import Source

SOURCE: Final[Source] = "hl7v2_gateway"

# python-hl7 logs the raw text of a field it cannot unescape, or of a segment before MSH: that
# is message content, possibly patient data, and the project's logs never carry any.
for _module in (hl7.util, hl7.containers):
    logging.getLogger(_module.__file__).disabled = True

#: MLLP framing: a message travels as 0x0b, the message, 0x1c 0x0d.
MLLP_START: Final = b"\x0b"
MLLP_END: Final = b"\x1c"

#: OBX-11 statuses whose values are results: final and corrected.
READING_STATUSES: Final = frozenset({"F", "C"})
#: OBX-11 statuses that withdraw an earlier result: wrong (W) and deleted (D).
RETRACTING_STATUSES: Final = frozenset({"W", "D"})
STATUS_NAMES: Final = {
    "R": "entered, not verified",
    "P": "preliminary",
    "X": "results cannot be obtained",
    "I": "pending",
    "S": "partial",
    "U": "changed to final without retransmission",
    "N": "not asked",
    "O": "order detail only",
    "A": "amended from preliminary",
}

#: Values monitors send for "no value": -999 (vendor placeholder) and the IEEE 11073 32-bit
#: FLOAT special values NaN (8388607), NRes (-8388608), +INF (8388606), -INF (-8388606)
#: and reserved (-8388607). A placeholder is missing data, never a reading.
PLACEHOLDERS: Final = frozenset(
    Decimal(v) for v in (-999, 8388607, -8388608, 8388606, -8388606, -8388607)
)

#: OBX-3/OBX-6 coding systems read (HL7 table 0396).
MDC_CODING: Final = "MDC"
LOINC_CODINGS: Final = frozenset({"LN", "LOINC"})
UCUM_CODING: Final = "UCUM"

#: HL7 NM: an optional sign, ASCII digits and an optional decimal point (no exponent).
_NM = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_TS = re.compile(r"(?P<digits>(?:\d\d){2,7})(?:\.\d{1,4})?(?P<zone>[+-]\d{4})?", re.ASCII)
#: Exceptions python-hl7 raises on malformed input (it asserts on some separator mistakes).
_PARSE_ERRORS: Final = (
    hl7.ParseException,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    AssertionError,
)


@dataclass(frozen=True)
class _Obx:
    """An OBX with the context it inherits from the segments before it."""

    segment: Any
    location: str
    patient_id: str | None
    obr_time: str


def split_messages(raw: bytes) -> list[bytes]:
    """Split bytes holding several messages (MLLP frames, blank lines, or one MSH after
    another) into one message each, segments separated by CR."""
    messages: list[list[bytes]] = []
    for segment in _segments(raw):
        if segment.startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return [b"\r".join(segments) for segments in messages]


def _segments(raw: bytes) -> list[bytes]:
    text = raw.replace(MLLP_START, b"\r").replace(MLLP_END, b"\r")
    text = text.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    return [segment for segment in text.split(b"\r") if segment.strip()]


def convert_hl7v2(raw: bytes) -> Conversion:
    """Convert one HL7 v2 ``ORU^R01`` into vital-signs events.

    Segments may be separated by CR, LF or CRLF, and MLLP framing bytes are dropped. Never
    raises for bad input: what cannot be used comes back as a :class:`Rejection`.

    Example:
        >>> conversion = convert_hl7v2(b"MSH|^~\\\\&|...\\rPID|||pt-7f3a9c\\rOBX|1|NM|...")
    """
    try:
        message = _parse(raw)
        header = _header(message)
    except ContractError as error:
        return Conversion(rejections=[Rejection.of(error, "MSH")])
    return _convert(message, header)


def _parse(raw: bytes) -> Any:
    """Decode, normalise separators and parse; raises :class:`ContractError` if impossible."""
    segments = _segments(raw)
    if not segments or not segments[0].startswith(b"MSH") or len(segments[0]) < 8:
        raise ContractError("invalid_hl7", "an HL7 v2 message starts with an MSH segment")
    if sum(1 for s in segments if s.startswith(b"MSH")) > 1:
        raise ContractError(
            "multiple_messages", "several MSH segments: send one message per MLLP frame"
        )
    joined = b"\r".join(segments)
    try:
        text = joined.decode("utf-8")
    except UnicodeDecodeError:
        if not _declares_latin1(segments[0]):
            raise ContractError(
                "not_utf8", "message is not UTF-8 and MSH-18 does not declare 8859/1"
            ) from None
        text = joined.decode("latin-1")
    try:
        return hl7.parse(text)
    except _PARSE_ERRORS:
        raise ContractError(
            "invalid_hl7", "the message could not be parsed: check MSH-1 and MSH-2"
        ) from None


def _declares_latin1(msh: bytes) -> bool:
    fields = msh.split(msh[3:4]) if len(msh) > 3 else []
    return len(fields) > 17 and fields[17].strip().upper().startswith(b"8859/1")


@dataclass(frozen=True)
class _Header:
    sender: str
    control_id: str
    time: str
    device: str


def _header(message: Any) -> _Header:
    """What MSH says; raises :class:`ContractError` for anything but an ORU^R01 with an id."""
    try:
        msh = message.segment("MSH")
        kind = (_get(msh, 9, 1), _get(msh, 9, 2))
        control_id = _get(msh, 10)
        sender = "^".join(_get(msh, n, c) for n in (3, 4) for c in (1, 2))
        time = _get(msh, 7)
        # MSH-3 names the sending device or gateway; its universal id (EUI-64) is the stable
        # one, its namespace id a display name.
        device = next(
            (v for v in (_get(msh, 3, 2), _get(msh, 3, 1), _get(msh, 4, 2), _get(msh, 4, 1)) if v),
            "",
        )
    except _PARSE_ERRORS:
        raise ContractError("invalid_hl7", "the MSH segment could not be read") from None
    if kind != ("ORU", "R01"):
        raise ContractError(
            "unsupported_message_type",
            f"MSH-9 is {shown('^'.join(kind))}: only ORU^R01 (IHE PCD-01) is read",
        )
    if not control_id:
        raise ContractError("invalid_hl7", "MSH-10 (message control id) is empty")
    return _Header(sender=sender, control_id=control_id, time=time, device=device)


def _get(segment: Any, field: int, component: int = 1, repeat: int = 1) -> str:
    """One component of a field, unescaped; empty when absent."""
    try:
        value = segment.extract_field(1, field, repeat, component, 1)
    except IndexError:
        return ""
    return str(value).strip()


def _convert(message: Any, header: _Header) -> Conversion:
    observations = list(_observations(message))
    equipment = _equipment_by_mds(observations)
    groups: dict[GroupKey, ObservationSet] = {}
    rejections: list[Rejection] = []
    for obx in observations:
        segment = obx.segment
        if not _get(segment, 2) and not _get(segment, 5):
            continue  # a PCD-01 device-hierarchy row (MDS, VMD, channel): no value
        try:
            measure = _measure(segment)
            _check_status(_get(segment, 11))
            patient_id = _patient_id(obx.patient_id)
            device_id = _device_id(segment, equipment, header.device)
            observed_at = _observed_at(
                (("OBX-14", _get(segment, 14)), ("OBR-7", obx.obr_time), ("MSH-7", header.time))
            )
            value = _value(segment, measure)
        except ContractError as error:
            rejections.append(Rejection.of(error, obx.location))
            continue
        key = (patient_id, device_id, observed_at)
        group = groups.setdefault(key, ObservationSet(patient_id, device_id, observed_at))
        group.readings.append(
            Reading(measure.vital, value, measure.rank, measure.name, obx.location)
        )
    events: list[InboundEvent] = []
    for group in groups.values():
        event_id = event_id_for(
            "hl7v2",
            header.sender,
            header.control_id,
            group.patient_id,
            group.device_id,
            group.observed_at.astimezone(UTC).isoformat(),
        )
        event, problems = build_observation(group, event_id=event_id, source=SOURCE)
        rejections.extend(problems)
        if event is not None:
            events.append(event)
    if not events and not rejections:
        rejections.append(Rejection("no_observations", "the ORU carries no OBX with a value"))
    return Conversion(events=events, rejections=rejections)


def _observations(message: Any) -> Iterator[_Obx]:
    """Each OBX with the patient (last PID) and order time (last OBR-7) it belongs to."""
    patient: str | None = None
    obr_time = ""
    count = 0
    for segment in message:
        name = str(segment[0])
        if name == "PID":
            patient, obr_time = _get(segment, 3), ""
        elif name == "OBR":
            obr_time = _get(segment, 7)
        elif name == "OBX":
            count += 1
            yield _Obx(segment, f"OBX[{count}]", patient, obr_time)


def _equipment_by_mds(observations: list[_Obx]) -> dict[str, str]:
    """OBX-18 per PCD-01 medical device system (the first number of OBX-4).

    PCD-01 names the equipment once, usually on the device's first row, and the rows below
    it in the containment tree (OBX-4 ``1.3.1.150456`` is in MDS 1) inherit it. An MDS that
    names two different pieces of equipment inherits nothing: that would be a guess.
    """
    seen: dict[str, set[str]] = {}
    for obx in observations:
        mds = _get(obx.segment, 4).split(".", 1)[0]
        equipment = _get(obx.segment, 18)
        if mds and equipment:
            seen.setdefault(mds, set()).add(equipment)
    return {mds: ids.pop() for mds, ids in seen.items() if len(ids) == 1}


def _measure(segment: Any) -> Measure:
    """The vital OBX-3 names (its identifier triplet and the alternate one).

    Raises:
        ContractError: ``unknown_code`` or ``ambiguous_code``.
    """
    found: dict[Vital, Measure] = {}
    named: list[str] = []
    for offset in (0, 3):
        code, text, system = (_get(segment, 3, offset + n) for n in (1, 2, 3))
        if not (code or text):
            continue
        named.append(f"{code}^{text}^{system}")
        measure: Measure | None = None
        if system == MDC_CODING:
            measure = _mdc_measure(code, text)
        elif system in LOINC_CODINGS:
            measure = LOINC_MEASURES.get(code)
        if measure is not None:
            found.setdefault(measure.vital, measure)
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        raise ContractError("ambiguous_code", f"OBX-3 names different measures: {named}")
    raise ContractError(
        "unknown_code",
        f"OBX-3 {shown(named[0] if named else '', 60)} is not a vital sign read here (MDC "
        f"{', '.join(MDC_MEASURES)}; LOINC {', '.join(LOINC_MEASURES)})",
    )


def _mdc_measure(code: str, refid: str) -> Measure | None:
    """An MDC code and reference id, which must agree when both are sent.

    Raises:
        ContractError: ``ambiguous_code`` when code and reference id name different terms.
    """
    by_code = MDC_MEASURES.get(code)
    if refid.startswith("MDC_"):
        by_refid = MDC_MEASURES.get(MDC_REFIDS.get(refid, ""))
        if code and by_code is not by_refid and (by_code or by_refid):
            raise ContractError(
                "ambiguous_code",
                f"OBX-3 code {shown(code)} and reference id {shown(refid, 60)} disagree",
            )
        return by_refid
    return by_code


def _check_status(status: str) -> None:
    if status in READING_STATUSES:
        return
    if status in RETRACTING_STATUSES:
        raise ContractError(
            "entered_in_error",
            f"OBX-11 {shown(status)}: the result was withdrawn; it is not a reading",
        )
    meaning = STATUS_NAMES.get(status, "empty" if not status else "unknown")
    raise ContractError(
        "non_final_status",
        f"OBX-11 {shown(status)} ({meaning}) is not a result; only F and C are read",
    )


def _patient_id(value: str | None) -> str:
    if value is None:
        raise ContractError("invalid_patient_reference", "no PID segment before the OBX")
    if not is_patient_id(value):
        raise ContractError(
            "invalid_patient_reference",
            "PID-3 must be a pseudonymous id (3-64 letters, digits or -_.:, no names or "
            "birth dates)",
        )
    return value


def _device_id(segment: Any, equipment: dict[str, str], sender: str) -> str:
    own = _get(segment, 18)
    mds = _get(segment, 4).split(".", 1)[0]
    device = own or equipment.get(mds, "") or sender
    if not device:
        raise ContractError("missing_device", "no OBX-18 equipment id and no MSH-3 or MSH-4")
    if not is_device_id(device):
        raise ContractError(
            "invalid_device_reference",
            "the device id (OBX-18, else MSH-3/MSH-4) must be letters, digits or -_.:/",
        )
    return device


def _observed_at(candidates: tuple[tuple[str, str], ...]) -> datetime:
    """The first time given, as an aware datetime.

    Raises:
        ContractError: ``missing_time``, ``time_without_zone``, ``imprecise_time`` or
            ``invalid_time``.
    """
    for name, value in candidates:
        if not value:
            continue
        match = _TS.fullmatch(value)
        if match is None:
            raise ContractError("invalid_time", f"{name} is not an HL7 TS (YYYYMMDDHHMM[SS])")
        if len(match["digits"]) < 12:
            raise ContractError("imprecise_time", f"{name} is not precise to the minute")
        if match["zone"] is None:
            raise ContractError(
                "time_without_zone",
                f"{name} has no UTC offset (+HHMM): guessing the zone could shift the reading "
                "by hours",
            )
        try:
            parsed = hl7.parse_datetime(value)
        except (ValueError, OverflowError):
            raise ContractError("invalid_time", f"{name} is not a valid date and time") from None
        if not isinstance(parsed, datetime):
            raise ContractError("invalid_time", f"{name} is not a valid date and time")
        return parsed
    raise ContractError("missing_time", "none of OBX-14, OBR-7 and MSH-7 carries a time")


def _value(segment: Any, measure: Measure) -> float:
    """OBX-5 in the canonical unit of ``measure``.

    Raises:
        ContractError: ``unsupported_value_type``, ``value_missing``, ``invalid_value`` or
            ``unknown_unit``.
    """
    value_type = _get(segment, 2)
    if value_type != "NM":
        raise ContractError(
            "unsupported_value_type", f"OBX-2 {shown(value_type)}: a vital sign is NM"
        )
    text = _get(segment, 5)
    if not text:
        raise ContractError("value_missing", f"OBX-5 is empty ({measure.name})")
    if not _NM.fullmatch(text):
        raise ContractError(
            "invalid_value", "OBX-5 is not an HL7 NM number (ASCII digits, sign, decimal point)"
        )
    number = Decimal(text)
    if number in PLACEHOLDERS:
        raise ContractError(
            "value_missing", f"OBX-5 holds a placeholder for 'no value' ({measure.name})"
        )
    code, text_unit, system = (_get(segment, 6, n) for n in (1, 2, 3))
    if system == MDC_CODING:
        unit = mdc_unit(code, text_unit if text_unit.startswith("MDC_") else "")
    elif system == UCUM_CODING:
        unit = ucum_unit(code)
    else:
        raise ContractError(
            "unknown_unit",
            "OBX-6 needs an MDC (code^MDC_DIM_...^MDC) or UCUM (code^^UCUM) unit "
            f"for {measure.vital}",
        )
    if unit is None:
        raise ContractError(
            "unknown_unit",
            f"OBX-6 {shown(code + '^' + text_unit, 60)} is not a unit read here",
        )
    return canonical_value(measure.vital, number, unit)


# --------------------------------------------------------------------------------------------
# Acknowledgements
# --------------------------------------------------------------------------------------------

#: HL7 table 0357 error codes used in ERR-3.
_UNSUPPORTED_MESSAGE_TYPE = ("200", "Unsupported message type")
_APPLICATION_ERROR = ("207", "Application internal error")
ACK_APPLICATION: Final = "DETOXMON"


def ack_for(
    raw: bytes,
    *,
    accepted: bool,
    error: str | None,
    now: datetime | None = None,
    control_id: str | None = None,
) -> bytes:
    """An HL7 v2 original-mode ACK for ``raw``, without MLLP framing.

    MSA-1 is AA when ``accepted``; otherwise AR when the message itself is unusable (no MSH,
    not ORU^R01: resending it will not help) and AE when its content was refused. MSA-2 echoes
    MSH-10, and an ERR segment carries ``error`` when not accepted.

    Args:
        raw: The message as received (MLLP framing and any separators allowed).
        accepted: Whether the message was taken.
        error: Why not, for ERR-8 (a reason and detail; never patient data).
        now: The ACK's MSH-7. Defaults to the current time.
        control_id: The ACK's own MSH-10. Defaults to a random id.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")
    own_id = control_id or uuid.uuid4().hex[:20]
    table_code = _APPLICATION_ERROR
    code = "AA" if accepted else "AE"
    message: Any = None
    try:
        message = _parse(raw)
        _header(message)
    except ContractError as problem:
        code = "AA" if accepted else "AR"
        if problem.reason == "unsupported_message_type":
            table_code = _UNSUPPORTED_MESSAGE_TYPE
    ack = None
    if message is not None:
        try:
            ack = message.create_ack(
                ack_code=code,
                message_id=own_id,
                application=_get(message.segment("MSH"), 5) or ACK_APPLICATION,
            )
        except _PARSE_ERRORS:
            ack = None  # an MSH too broken to answer in kind (e.g. MSH-9 without components)
    if ack is None:
        # An ACK of our own making; MSA-2 still echoes MSH-10 when it could be read, and an
        # empty MSA-2 still tells the sender the message was refused.
        blank = hl7.parse(f"MSH|^~\\&|||{ACK_APPLICATION}||{stamp}||ACK^||P|2.6")
        ack = blank.create_ack(ack_code=code, message_id=own_id, application=ACK_APPLICATION)
        original = _get(message.segment("MSH"), 10) if message is not None else ""
        ack.segment("MSA").assign_field(ack.escape(original), 2)
    ack.segment("MSH").assign_field(stamp, 7)
    if not accepted:
        err = ack.create_segment([ack.create_field(["ERR"])])
        err.assign_field(table_code[0], 3, 1, 1)
        err.assign_field(table_code[1], 3, 1, 2)
        err.assign_field("HL70357", 3, 1, 3)
        err.assign_field("E", 4)
        err.assign_field(ack.escape(" ".join((error or "not accepted").split())[:500]), 8)
        ack.append(err)
    return (str(ack).rstrip("\r") + "\r").encode("utf-8")
