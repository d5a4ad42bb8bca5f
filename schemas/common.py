"""Field types shared by every event model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

#: A pseudonymous patient reference issued by the enrolling service.
#: Letters, digits and ``-_.:`` only, so a name with a space or a birth date such as
#: ``1970/01/01`` cannot pass; the pipeline never sees who the patient is.
PatientId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$"),
    Field(
        description="Pseudonymous patient reference (no names, no birth dates).",
        examples=["pt-7f3a9c"],
    ),
]

#: Identifier of the device or app that took the reading.
DeviceId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$"),
    Field(description="Device or app instance that sent the message.", examples=["bm-ward3-07"]),
]

#: Ward or programme identifier (a low-cardinality tag, never free text).
WardId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"),
    Field(description="Ward or programme code.", examples=["ward-3"]),
]
