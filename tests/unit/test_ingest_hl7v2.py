"""HL7 v2 ORU^R01 (IHE PCD-01) into the contract: codes, units, separators, placeholders,
statuses, grouping, deterministic ids, acknowledgements, and that PID-5/PID-7 never leak."""

from __future__ import annotations

import logging
from pathlib import Path

import hl7
import pytest

from agents.ingest.formats import Conversion
from agents.ingest.hl7v2 import ack_for, convert_hl7v2, split_messages
from agents.ingest.vitalsets import LOINC_MEASURES, MDC_MEASURES
from schemas import VitalSignsObservation

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "hl7v2"
T = "20251120081500+0000"
MSH = (
    "MSH|^~\\&|ACME_GATEWAY^0123456789ABCDEF^EUI-64|ACME_WARD3|DETOXMON|DETOX_UNIT|"
    "20251120081530+0000||ORU^R01^ORU_R01|CTRL-1|P|2.6|||NE|AL||UNICODE UTF-8"
)
PID = "PID|||pt-7f3a9c^^^DETOX^PI||TEST^PATIENT^^^^^L||19700101|U"
OBR = f"OBR|1|CTRL-1^ACME|CTRL-1^ACME|182777000^monitoring of patient^SCT|||{T}"
#: What PID-5 and PID-7 hold in every message here; none of it may ever come out.
PHI = ("TEST", "PATIENT", "19700101")

UNIT = {
    "heart_rate": "264864^MDC_DIM_BEAT_PER_MIN^MDC",
    "respiratory_rate": "264928^MDC_DIM_RESP_PER_MIN^MDC",
    "systolic_bp": "266016^MDC_DIM_MMHG^MDC",
    "diastolic_bp": "266016^MDC_DIM_MMHG^MDC",
    "temperature": "268192^MDC_DIM_DEGC^MDC",
    "spo2": "262688^MDC_DIM_PERCENT^MDC",
}
VALUE = {
    "heart_rate": "88",
    "respiratory_rate": "16",
    "systolic_bp": "128",
    "diastolic_bp": "82",
    "temperature": "37.1",
    "spo2": "97",
}
PARTNER = {"systolic_bp": "150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.3.1|82",
           "diastolic_bp": "150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.3.1|128"}  # fmt: skip


def obx(
    code: str = "147842^MDC_ECG_HEART_RATE^MDC",
    value: str = "88",
    unit: str = "264864^MDC_DIM_BEAT_PER_MIN^MDC",
    *,
    status: str = "F",
    time: str = T,
    sub: str = "1.1.1",
    equipment: str = "bm-ward3-07",
    value_type: str = "NM",
) -> str:
    return f"OBX|1|{value_type}|{code}|{sub}|{value}|{unit}|||||{status}|||{time}||||{equipment}"


def message(*segments: str, header: str = MSH, pid: str | None = PID, sep: str = "\r") -> bytes:
    parts = [header, *([pid] if pid is not None else []), OBR, *segments]
    return sep.join(parts).encode()


def only_event(conversion: Conversion) -> VitalSignsObservation:
    assert conversion.rejections == []
    assert len(conversion.events) == 1
    event = conversion.events[0]
    assert isinstance(event, VitalSignsObservation)
    return event


def reasons(conversion: Conversion) -> list[str]:
    return [r.reason for r in conversion.rejections]


def with_partner(vital: str, *segments: str) -> tuple[str, ...]:
    """A systolic needs its diastolic (and the reverse) to make a valid observation set."""
    if vital not in PARTNER:
        return segments
    code, sub, value = PARTNER[vital].split("|")
    return (*segments, obx(code, value, "266016^MDC_DIM_MMHG^MDC", sub=sub))


# --- the committed examples ---------------------------------------------------------------

ALL_VITALS = {
    "heart_rate": 124,
    "spo2": 97,
    "systolic_bp": 152,
    "diastolic_bp": 94,
    "temperature": 37.6,
    "respiratory_rate": 18,
}


@pytest.mark.parametrize(
    ("name", "vitals", "rejected"),
    [
        ("oru-r01-pcd01-mdc.hl7", [ALL_VITALS], []),
        ("oru-r01-pcd01-mdc-crlf.hl7", [ALL_VITALS], []),
        ("oru-r01-pcd01-mdc-lf.hl7", [ALL_VITALS], []),
        (
            "oru-r01-placeholder.hl7",
            [{k: v for k, v in ALL_VITALS.items() if k != "respiratory_rate"}],
            ["value_missing"],
        ),
        (
            "oru-r01-non-final.hl7",
            [{k: v for k, v in ALL_VITALS.items() if k != "heart_rate"}],
            ["non_final_status"],
        ),
        (
            "oru-r01-loinc.hl7",
            [
                {
                    "heart_rate": 118,
                    "spo2": 96,
                    "systolic_bp": 148,
                    "diastolic_bp": 92,
                    "temperature": 37.5,
                    "respiratory_rate": 20,
                }
            ],
            [],
        ),
        (
            "oru-r01-two-groups.hl7",
            [{"heart_rate": 121, "spo2": 96}, {"systolic_bp": 146, "diastolic_bp": 90}],
            [],
        ),
    ],
)
def test_example_files_convert_to_the_documented_vitals(
    name: str, vitals: list[dict[str, float]], rejected: list[str]
) -> None:
    conversion = convert_hl7v2((EXAMPLES / name).read_bytes())
    assert reasons(conversion) == rejected
    assert [e.vitals() for e in conversion.events] == [pytest.approx(v) for v in vitals]
    assert all(e.source == "hl7v2_gateway" for e in conversion.events)
    assert all(e.patient_id == "pt-7f3a9c" for e in conversion.events)


def test_cr_lf_and_crlf_separators_and_mllp_framing_give_the_same_events() -> None:
    segments = (obx(), obx("150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", UNIT["spo2"], sub="1.2.1"))
    expected = only_event(convert_hl7v2(message(*segments)))
    for raw in (
        message(*segments, sep="\n"),
        message(*segments, sep="\r\n"),
        b"\x0b" + message(*segments) + b"\x1c\r",
        b"\x0b" + message(*segments, sep="\r\n") + b"\r\n\x1c\r",
    ):
        assert only_event(convert_hl7v2(raw)) == expected


# --- codes and units -----------------------------------------------------------------------


@pytest.mark.parametrize(("code", "vital"), [(c, m.vital) for c, m in MDC_MEASURES.items()])
def test_each_mdc_code_maps_to_its_vital(code: str, vital: str) -> None:
    measure = MDC_MEASURES[code]
    segment = obx(f"{code}^{measure.name}^MDC", VALUE[vital], UNIT[vital])
    event = only_event(convert_hl7v2(message(*with_partner(vital, segment))))
    assert getattr(event, vital) == pytest.approx(float(VALUE[vital]))


@pytest.mark.parametrize(("code", "vital"), [(c, m.vital) for c, m in LOINC_MEASURES.items()])
def test_each_loinc_code_maps_to_its_vital(code: str, vital: str) -> None:
    segment = obx(f"{code}^any display text^LN", VALUE[vital], UNIT[vital])
    event = only_event(convert_hl7v2(message(*with_partner(vital, segment))))
    assert getattr(event, vital) == pytest.approx(float(VALUE[vital]))


def test_an_mdc_reference_id_alone_names_the_measure() -> None:
    event = only_event(convert_hl7v2(message(obx("^MDC_ECG_HEART_RATE^MDC", "71"))))
    assert event.heart_rate == 71


def test_an_mdc_code_and_reference_id_that_disagree_are_refused() -> None:
    conversion = convert_hl7v2(message(obx("150022^MDC_ECG_HEART_RATE^MDC", "88")))
    assert reasons(conversion) == ["ambiguous_code"]


def test_an_unknown_code_is_refused_naming_the_code() -> None:
    conversion = convert_hl7v2(
        message(obx("150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "100", UNIT["systolic_bp"]))
    )
    assert reasons(conversion) == ["unknown_code"]
    assert "150023" in conversion.rejections[0].detail


@pytest.mark.parametrize(
    ("code", "value", "unit", "vital", "expected"),
    [
        ("150364^MDC_TEMP_BODY^MDC", "98.6", "266560^MDC_DIM_FAHR^MDC", "temperature", 37.0),
        ("150364^MDC_TEMP_BODY^MDC", "98.6", "268224^MDC_DIM_FAHR^MDC", "temperature", 37.0),
        ("150364^MDC_TEMP_BODY^MDC", "98.6", "^MDC_DIM_FAHR^MDC", "temperature", 37.0),
        ("150364^MDC_TEMP_BODY^MDC", "98.6", "266560^^MDC", "temperature", 37.0),
        ("8310-5^Body temperature^LN", "98.6", "[degF]^^UCUM", "temperature", 37.0),
        ("8310-5^Body temperature^LN", "37.3", "Cel^^UCUM", "temperature", 37.3),
        ("8867-4^Heart rate^LN", "64", "/min^^UCUM", "heart_rate", 64),
        ("150456^MDC_PULS_OXIM_SAT_O2^MDC", "94", "%^^UCUM", "spo2", 94),
        ("151562^MDC_RESP_RATE^MDC", "12", "{breaths}/min^^UCUM", "respiratory_rate", 12),
    ],
)
def test_units_are_read_from_mdc_or_ucum_codes_and_converted(
    code: str, value: str, unit: str, vital: str, expected: float
) -> None:
    event = only_event(convert_hl7v2(message(obx(code, value, unit))))
    assert getattr(event, vital) == pytest.approx(expected)


def test_fahrenheit_98_6_is_exactly_37_celsius() -> None:
    segment = obx("150364^MDC_TEMP_BODY^MDC", "98.6", "266560^MDC_DIM_FAHR^MDC")
    assert only_event(convert_hl7v2(message(segment))).temperature == 37.0


@pytest.mark.parametrize("unit", ["265987^MDC_DIM_KILO_PASCAL^MDC", "kPa^^UCUM"])
def test_kilopascal_blood_pressure_is_converted_to_mm_hg(unit: str) -> None:
    conversion = convert_hl7v2(
        message(
            obx("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "16", unit),
            obx("150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "10", unit),
        )
    )
    event = only_event(conversion)
    assert event.systolic_bp == pytest.approx(16 * 7.50062)
    assert event.diastolic_bp == pytest.approx(10 * 7.50062)


@pytest.mark.parametrize(
    "unit",
    [
        "",  # no unit: never assumed
        "mmHg",  # no coding system
        "bpm^^L",  # a local code
        "268224^^MDC",  # the unverified Fahrenheit code without its reference id
        "268048^MDC_DIM_KILO_PASCAL^MDC",  # code and reference id of different units
        "266016^MDC_DIM_MMHG^MDC",  # a pressure unit for a heart rate
    ],
)
def test_a_missing_unknown_or_mismatched_unit_is_refused(unit: str) -> None:
    assert reasons(convert_hl7v2(message(obx(unit=unit)))) == ["unknown_unit"]


# --- values and placeholders ----------------------------------------------------------------


@pytest.mark.parametrize("placeholder", ["-999", "8388607", "-999.0", "-8388608"])
def test_placeholders_mean_missing_and_are_never_a_reading(placeholder: str) -> None:
    conversion = convert_hl7v2(message(obx(value=placeholder)))
    assert conversion.events == []
    assert reasons(conversion) == ["value_missing"]


@pytest.mark.parametrize(
    ("value", "value_type", "reason"),
    [
        ("", "NM", "value_missing"),
        ("eighty", "NM", "invalid_value"),
        ("NaN", "NM", "invalid_value"),
        ("1e2", "NM", "invalid_value"),  # NM has no exponent
        ("\u0668\u0668", "NM", "invalid_value"),  # NM digits are ASCII
        ("88", "ST", "unsupported_value_type"),
        ("120^80", "NA", "unsupported_value_type"),
    ],
)
def test_an_unusable_value_is_refused_with_its_reason(
    value: str, value_type: str, reason: str
) -> None:
    conversion = convert_hl7v2(message(obx(value=value, value_type=value_type)))
    assert reasons(conversion) == [reason]


@pytest.mark.parametrize(
    ("code", "unit", "low", "high"),
    [
        ("147842^MDC_ECG_HEART_RATE^MDC", UNIT["heart_rate"], "0", "300"),
        ("150364^MDC_TEMP_BODY^MDC", UNIT["temperature"], "30", "44"),
        ("150456^MDC_PULS_OXIM_SAT_O2^MDC", UNIT["spo2"], "50", "100"),
        ("151562^MDC_RESP_RATE^MDC", UNIT["respiratory_rate"], "0", "120"),
    ],
)
def test_values_at_the_plausibility_limits_pass_and_beyond_them_are_artefacts(
    code: str, unit: str, low: str, high: str
) -> None:
    for value in (low, high):
        assert only_event(convert_hl7v2(message(obx(code, value, unit)))).vitals()
    for value in (str(float(low) - 0.1), str(float(high) + 0.1)):
        conversion = convert_hl7v2(message(obx(code, value, unit)))
        assert conversion.events == []
        assert reasons(conversion) == ["schema_violation"]


def test_an_artefact_does_not_discard_the_readings_taken_with_it() -> None:
    conversion = convert_hl7v2(
        message(obx(), obx("150456^MDC_PULS_OXIM_SAT_O2^MDC", "12", UNIT["spo2"], sub="1.2.1"))
    )
    assert [e.vitals() for e in conversion.events] == [{"heart_rate": 88}]
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("schema_violation", "OBX[2]")
    ]


# --- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["F", "C"])
def test_final_and_corrected_results_become_readings(status: str) -> None:
    assert only_event(convert_hl7v2(message(obx(status=status)))).heart_rate == 88


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("R", "non_final_status"),
        ("P", "non_final_status"),
        ("X", "non_final_status"),
        ("I", "non_final_status"),
        ("", "non_final_status"),
        ("W", "entered_in_error"),
        ("D", "entered_in_error"),
    ],
)
def test_other_statuses_are_refused_with_a_reason(status: str, reason: str) -> None:
    conversion = convert_hl7v2(message(obx(status=status)))
    assert conversion.events == []
    assert reasons(conversion) == [reason]


def test_pcd01_device_hierarchy_rows_without_a_value_are_not_readings_nor_rejections() -> None:
    mds = "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X"
    assert only_event(convert_hl7v2(message(mds, obx()))).heart_rate == 88


# --- patient, device, time ------------------------------------------------------------------


@pytest.mark.parametrize(
    "pid",
    [
        "PID|||Smith John^^^DETOX^PI||TEST^PATIENT||19700101",
        "PID|||^^^DETOX^PI||TEST^PATIENT||19700101",
        "PID|||1970/01/01||TEST^PATIENT||19700101",
    ],
)
def test_a_pid3_that_is_not_a_pseudonymous_id_is_refused_without_echoing_it(pid: str) -> None:
    conversion = convert_hl7v2(message(obx(), pid=pid))
    assert reasons(conversion) == ["invalid_patient_reference"]
    assert "Smith" not in repr(conversion.rejections)
    assert "1970" not in repr(conversion.rejections)


def test_an_oru_without_a_pid_is_refused() -> None:
    assert reasons(convert_hl7v2(message(obx(), pid=None))) == ["invalid_patient_reference"]


def test_the_device_is_obx18_else_the_mds_equipment_else_the_sending_application() -> None:
    own = only_event(convert_hl7v2(message(obx(equipment="bm-ward3-07"))))
    assert own.device_id == "bm-ward3-07"
    inherited = convert_hl7v2(
        message(
            obx(sub="1.1.1.147842", equipment="bm-ward3-07"),
            obx("150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", UNIT["spo2"], sub="1.2.1", equipment=""),
        )
    )
    assert [e.device_id for e in inherited.events] == ["bm-ward3-07"]
    sender = only_event(convert_hl7v2(message(obx(sub="", equipment=""))))
    assert sender.device_id == "0123456789ABCDEF"  # MSH-3's universal id (EUI-64)


def test_an_mds_naming_two_devices_lends_neither_to_rows_without_obx18() -> None:
    conversion = convert_hl7v2(
        message(
            obx(sub="1.1.1", equipment="bm-a"),
            obx("150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", UNIT["spo2"], sub="1.2.1", equipment=""),
            obx("151562^MDC_RESP_RATE^MDC", "16", UNIT["respiratory_rate"], sub="1.3.1",
                equipment="bm-b"),
        )
    )  # fmt: skip
    assert sorted(e.device_id for e in conversion.events) == ["0123456789ABCDEF", "bm-a", "bm-b"]


def test_no_device_anywhere_is_refused() -> None:
    header = MSH.replace("ACME_GATEWAY^0123456789ABCDEF^EUI-64|ACME_WARD3", "|")
    conversion = convert_hl7v2(message(obx(sub="", equipment=""), header=header))
    assert reasons(conversion) == ["missing_device"]


def test_the_time_is_obx14_else_obr7_else_msh7() -> None:
    def observed(*, obx_time: str, obr_time: str) -> str:
        obr = f"OBR|1|||182777000^monitoring of patient^SCT|||{obr_time}"
        raw = "\r".join([MSH, PID, obr, obx(time=obx_time)]).encode()
        return only_event(convert_hl7v2(raw)).observed_at.isoformat()

    assert observed(obx_time="202511200810+0100", obr_time=T) == "2025-11-20T08:10:00+01:00"
    assert observed(obx_time="", obr_time="20251120081200+0000") == "2025-11-20T08:12:00+00:00"
    assert observed(obx_time="", obr_time="") == "2025-11-20T08:15:30+00:00"


def test_fractional_seconds_and_offsets_are_read() -> None:
    event = only_event(convert_hl7v2(message(obx(time="20251120120000.0000+0530"))))
    assert event.observed_at.isoformat() == "2025-11-20T12:00:00+05:30"


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("20251120081500", "time_without_zone"),
        ("20251120+0000", "imprecise_time"),
        ("2025-11-20T08:15:00Z", "invalid_time"),
        ("20251320081500+0000", "invalid_time"),
    ],
)
def test_an_unusable_time_is_refused_with_its_reason(time: str, reason: str) -> None:
    assert reasons(convert_hl7v2(message(obx(time=time)))) == [reason]


def test_a_time_without_offset_says_why_it_is_not_guessed() -> None:
    conversion = convert_hl7v2(message(obx(time="20251120081500")))
    assert "shift the reading by hours" in conversion.rejections[0].detail


def test_no_time_anywhere_is_refused() -> None:
    header = MSH.replace("20251120081530+0000", "")
    obr = "OBR|1|||182777000^monitoring of patient^SCT"
    raw = "\r".join([header, PID, obr, obx(time="")]).encode()
    assert reasons(convert_hl7v2(raw)) == ["missing_time"]


# --- the message as a whole -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "invalid_hl7"),
        (b"hello", "invalid_hl7"),
        (b'{"kind": "vital_signs"}', "invalid_hl7"),
        (
            message(obx()).replace(b"ORU^R01^ORU_R01", b"ADT^A01^ADT_A01"),
            "unsupported_message_type",
        ),
        (message(obx()).replace(b"CTRL-1|P", b"|P"), "invalid_hl7"),
        (message(obx()) + b"\r" + message(obx()), "multiple_messages"),
        (message(obx()).replace(b"TEST", b"T\xe9ST"), "not_utf8"),
    ],
)
def test_an_unusable_message_is_refused_as_a_whole(raw: bytes, reason: str) -> None:
    conversion = convert_hl7v2(raw)
    assert conversion.events == []
    assert reasons(conversion) == [reason]


def test_a_latin1_message_that_says_so_in_msh18_is_read() -> None:
    header = MSH.replace("UNICODE UTF-8", "8859/1")
    raw = message(obx(), header=header).replace(b"TEST", b"T\xe9ST")
    assert only_event(convert_hl7v2(raw)).heart_rate == 88


def test_split_messages_separates_mllp_frames_blank_lines_and_back_to_back_headers() -> None:
    one, two = message(obx()), message(obx(value="90")).replace(b"CTRL-1", b"CTRL-2")
    for raw in (
        b"\x0b" + one + b"\x1c\r\x0b" + two + b"\x1c\r",
        one.replace(b"\r", b"\n") + b"\n\n" + two.replace(b"\r", b"\n") + b"\n",
        one + b"\r" + two,
    ):
        parts = split_messages(raw)
        assert [only_event(convert_hl7v2(p)).heart_rate for p in parts] == [88, 90]


# --- grouping and ids -----------------------------------------------------------------------


def test_several_obr_groups_and_devices_give_one_observation_set_each() -> None:
    raw = "\r".join(
        [
            MSH,
            PID,
            OBR,
            obx(time=T),
            obx("150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", UNIT["spo2"], sub="1.2.1", time=T),
            "OBR|2|||182777000^monitoring of patient^SCT|||20251120080000+0000",
            obx(value="100", time=""),
            obx(value="101", time=T, equipment="bm-ward3-08"),
        ]
    ).encode()
    conversion = convert_hl7v2(raw)
    assert conversion.rejections == []
    assert [(e.device_id, e.observed_at.minute, e.vitals()) for e in conversion.events] == [
        ("bm-ward3-07", 15, {"heart_rate": 88, "spo2": 97}),
        ("bm-ward3-07", 0, {"heart_rate": 100}),
        ("bm-ward3-08", 15, {"heart_rate": 101}),
    ]


def test_several_patients_in_one_oru_stay_apart() -> None:
    other = "PID|||pt-0b1d2e^^^DETOX^PI||TEST^PATIENT||19700101"
    raw = "\r".join([MSH, PID, OBR, obx(value="88"), other, OBR, obx(value="99")]).encode()
    conversion = convert_hl7v2(raw)
    assert [(e.patient_id, e.heart_rate) for e in conversion.events] == [
        ("pt-7f3a9c", 88),
        ("pt-0b1d2e", 99),
    ]


def test_the_ecg_heart_rate_outranks_the_oximeter_pulse_rate() -> None:
    conversion = convert_hl7v2(
        message(obx("149530^MDC_PULS_OXIM_PULS_RATE^MDC", "80"), obx(value="82"))
    )
    assert [e.heart_rate for e in conversion.events] == [82]
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("duplicate_measure", "OBX[1]")
    ]


def test_the_same_message_gets_the_same_event_ids_and_another_control_id_new_ones() -> None:
    raw = (EXAMPLES / "oru-r01-two-groups.hl7").read_bytes()
    first = [e.event_id for e in convert_hl7v2(raw).events]
    assert first == [e.event_id for e in convert_hl7v2(raw).events]
    assert len(set(first)) == 2
    renumbered = raw.replace(b"PCD-20251120-0006|P", b"PCD-20251120-0099|P")
    assert set(first).isdisjoint(e.event_id for e in convert_hl7v2(renumbered).events)


def test_separators_do_not_change_event_ids() -> None:
    cr = convert_hl7v2(message(obx())).events[0].event_id
    assert convert_hl7v2(message(obx(), sep="\r\n")).events[0].event_id == cr


# --- privacy --------------------------------------------------------------------------------


def test_pid5_and_pid7_never_appear_in_any_event_or_rejection() -> None:
    raws = [path.read_bytes() for path in sorted(EXAMPLES.glob("*.hl7"))]
    raws += [
        message(obx(value="-999")),
        message(obx(status="R")),
        message(obx(time="20251120081500")),
        message(obx(unit="")),
        message(obx("999^UNKNOWN^MDC")),
        message(obx(), pid="PID|||TEST PATIENT||TEST^PATIENT||19700101"),
        message(obx()).replace(b"ORU^R01", b"ADT^A01"),
    ]
    for raw in raws:
        assert b"TEST^PATIENT" in raw
        assert b"19700101" in raw
        conversion = convert_hl7v2(raw)
        text = "".join(e.model_dump_json() for e in conversion.events) + repr(conversion.rejections)
        for value in PHI:
            assert value not in text
        ack = ack_for(raw, accepted=False, error="; ".join(r.detail for r in conversion.rejections))
        for value in PHI:
            assert value.encode() not in ack


def test_fields_the_library_cannot_unescape_are_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pid = "PID|||pt-\\Xzz\\7f3a9c^^^DETOX^PI||TEST\\Xqq\\^PATIENT||19700101"
    with caplog.at_level(logging.DEBUG):
        conversion = convert_hl7v2(message(obx("1\\Zab\\^X^MDC"), pid=pid))
        ack_for(message(obx(), pid=pid), accepted=False, error="x")
    assert reasons(conversion) == ["unknown_code"]
    assert caplog.records == []


# --- acknowledgements -----------------------------------------------------------------------


def parsed_ack(raw: bytes) -> hl7.Message:
    assert raw.endswith(b"\r")
    return hl7.parse(raw.decode())


def test_an_accepted_message_is_acknowledged_with_aa_and_its_control_id() -> None:
    ack = parsed_ack(ack_for(message(obx()), accepted=True, error=None, control_id="ACK-1"))
    assert str(ack.segment("MSH")(9)) == "ACK^R01^ACK"
    assert str(ack.segment("MSH")(10)) == "ACK-1"
    assert str(ack.segment("MSH")(7)).endswith("+0000")
    assert (str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))) == ("AA", "CTRL-1")
    with pytest.raises(KeyError):
        ack.segment("ERR")


def test_a_refused_message_gets_ae_and_an_err_segment_with_the_reason_escaped() -> None:
    raw = ack_for(message(obx()), accepted=False, error="unknown_code: OBX-3 '1^X|Y'")
    ack = parsed_ack(raw)
    assert (str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))) == ("AE", "CTRL-1")
    err = ack.segment("ERR")
    assert str(err(3)).startswith("207^")
    assert str(err(4)) == "E"
    assert ack.unescape(str(err(8))) == "unknown_code: OBX-3 '1^X|Y'"


@pytest.mark.parametrize(
    ("raw", "control_id", "table_code"),
    [
        (b"not hl7 at all", "", "207"),
        (message(obx()).replace(b"ORU^R01^ORU_R01", b"ADT^A01^ADT_A01"), "CTRL-1", "200"),
        (message(obx()).replace(b"ORU^R01^ORU_R01", b"ORU"), "CTRL-1", "200"),
        (b"\x0b" + message(obx()).replace(b"CTRL-1|P", b"|P") + b"\x1c\r", "", "207"),
    ],
)
def test_a_message_that_cannot_be_processed_gets_ar(
    raw: bytes, control_id: str, table_code: str
) -> None:
    ack = parsed_ack(ack_for(raw, accepted=False, error="refused"))
    assert (str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))) == ("AR", control_id)
    assert str(ack.segment("ERR")(3)).startswith(table_code + "^")
