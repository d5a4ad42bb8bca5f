"""Ingestion: message formats (native JSON, FHIR R4, HL7 v2) and the paths they arrive by."""
