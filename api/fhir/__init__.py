"""FHIR R4 views of a participant's record (api.fhir.resources) and their packaging (bundle)."""
