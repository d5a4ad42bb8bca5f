"""Properties of the converters: whatever arrives, they answer with events that meet the contract
or rejections with a reason, and never raise (a gateway must always get an answer)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.ingest.formats import Conversion, Format, convert
from agents.ingest.hl7v2 import ack_for, split_messages
from schemas import INBOUND_EVENT

FORMATS: tuple[Format, ...] = ("json", "fhir", "hl7v2")
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def assert_well_formed(conversion: Conversion) -> None:
    assert isinstance(conversion, Conversion)
    for event in conversion.events:
        INBOUND_EVENT.validate_python(event.model_dump())
    for rejection in conversion.rejections:
        assert rejection.reason.strip()
        assert rejection.detail.strip()


@PROPERTY_SETTINGS
@given(fmt=st.sampled_from(FORMATS), raw=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_in_any_format(fmt: Format, raw: bytes) -> None:
    assert_well_formed(convert(fmt, raw))


@PROPERTY_SETTINGS
@given(fmt=st.sampled_from(FORMATS), value=json_values)
def test_arbitrary_json_never_raises_in_any_format(fmt: Format, value: Any) -> None:
    assert_well_formed(convert(fmt, json.dumps(value).encode()))


# --- FHIR-shaped JSON: the structure is right often enough to reach the deep checks ----------

codings = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from(
            ["http://loinc.org", "urn:iso:std:iso:11073:10101", "http://snomed.info/sct", 7]
        ),
        "code": st.sampled_from(
            ["8867-4", "8480-6", "8462-4", "85354-9", "8310-5", "2708-6", "150456", "150020", "x"]
        ),
    },
)
quantities = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(st.integers(-1000, 10**7), st.floats(allow_nan=False), st.text()),
        "system": st.sampled_from(["http://unitsofmeasure.org", "urn:iso:std:iso:11073:10101"]),
        "code": st.sampled_from(["/min", "mm[Hg]", "kPa", "Cel", "[degF]", "%", "264864", ""]),
        "comparator": st.sampled_from(["<", ">"]),
    },
)
times = st.sampled_from(
    ["2025-11-20T08:15:00+00:00", "2025-11-20T08:15:00", "2025-11-20", "x", "2025-11-20T08:15Z"]
)
observations = st.fixed_dictionaries(
    {"resourceType": st.just("Observation")},
    optional={
        "id": st.text(max_size=8),
        "status": st.sampled_from(["final", "amended", "preliminary", "entered-in-error", 3]),
        "code": st.fixed_dictionaries({"coding": st.lists(codings, max_size=3)}),
        "subject": st.fixed_dictionaries(
            {"reference": st.sampled_from(["Patient/pt-7f3a9c", "Patient/a b", "Group/x", ""])}
        ),
        "device": st.fixed_dictionaries(
            {"reference": st.sampled_from(["Device/bm-1", "DeviceMetric/x", "#d"])}
        ),
        "effectiveDateTime": times,
        "effectiveInstant": times,
        "effectivePeriod": st.fixed_dictionaries({}, optional={"start": times}),
        "valueQuantity": quantities,
        "valueString": st.text(max_size=5),
        "dataAbsentReason": st.just({"coding": [{"code": "error"}]}),
        "component": st.lists(
            st.fixed_dictionaries(
                {"code": st.fixed_dictionaries({"coding": st.lists(codings, max_size=2)})},
                optional={"valueQuantity": quantities},
            ),
            max_size=3,
        ),
        "meta": st.fixed_dictionaries(
            {"profile": st.lists(st.sampled_from(["x|5.0.0", "x|4.0.1", 1]), max_size=2)}
        ),
        "triggeredBy": st.just([]),
        "fhirVersion": st.sampled_from(["4.0.1", "5.0.0", 4]),
    },
)
bundles = st.fixed_dictionaries(
    {
        "resourceType": st.just("Bundle"),
        "type": st.sampled_from(["transaction", "collection", "batch", "searchset", 1]),
    },
    optional={
        "entry": st.lists(
            st.one_of(
                st.fixed_dictionaries({"resource": observations}),
                st.fixed_dictionaries({}, optional={"fullUrl": st.text(max_size=5)}),
                json_values,
            ),
            max_size=4,
        )
    },
)


@PROPERTY_SETTINGS
@given(resource=st.one_of(observations, bundles))
def test_fhir_shaped_resources_never_raise(resource: dict[str, Any]) -> None:
    assert_well_formed(convert("fhir", json.dumps(resource).encode()))


# --- HL7-like segment soup -------------------------------------------------------------------

tokens = st.sampled_from(
    [
        "",
        "NM",
        "ST",
        "F",
        "C",
        "R",
        "X",
        "-999",
        "8388607",
        "88",
        "98.6",
        "1e9",
        "1e999999999",
        "\\Xzz\\",
        "pt\\F\\x",
        "\\.br\\",
        "-1e-999999999",
        "pt-7f3a9c",
        "TEST^PATIENT",
        "147842^MDC_ECG_HEART_RATE^MDC",
        "150456^MDC_PULS_OXIM_SAT_O2^MDC",
        "^MDC_DIM_FAHR^MDC",
        "264864^MDC_DIM_BEAT_PER_MIN^MDC",
        "8867-4^Heart rate^LN",
        "/min^^UCUM",
        "20251120081500+0000",
        "20251120081500",
        "202511",
        "1.2.1.147842",
        "ORU^R01^ORU_R01",
        "ADT^A01",
        "bm-1^^0123456789ABCDEF^EUI-64",
        "^~\\&",
        "\\F\\",
        "\\X00\\",
        "&",
        "~",
        "^",
    ]
)
segment_names = st.sampled_from(["MSH", "PID", "PV1", "OBR", "OBX", "NTE", "ZXX", "MSA", ""])


@st.composite
def segments(draw: st.DrawFn) -> str:
    name = draw(segment_names)
    fields = draw(st.lists(st.one_of(tokens, st.text(max_size=6)), max_size=20))
    if name == "MSH" and draw(st.booleans()):
        return "MSH|^~\\&|" + "|".join(fields)
    return "|".join([name, *fields])


@PROPERTY_SETTINGS
@given(
    parts=st.lists(segments(), max_size=12),
    separators=st.lists(
        st.sampled_from(["\r", "\n", "\r\n", "\n\n", "\x0b", "\x1c\r"]), min_size=1
    ),
    header=st.booleans(),
)
def test_hl7_like_segment_soup_never_raises(
    parts: list[str], separators: list[str], header: bool
) -> None:
    if header:
        parts = [
            "MSH|^~\\&|GW^0123456789ABCDEF^EUI-64||||20251120081530+0000||ORU^R01|C1|P|2.6",
            *parts,
        ]
    text = ""
    for index, part in enumerate(parts):
        text += part + separators[index % len(separators)]
    raw = text.encode()
    assert_well_formed(convert("hl7v2", raw))
    for message in split_messages(raw):
        assert_well_formed(convert("hl7v2", message))
        assert ack_for(message, accepted=False, error="x").startswith(b"MSH")
