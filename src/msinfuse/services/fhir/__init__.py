"""FHIR R4 exchange: pure mappings, import validation, and the export/import services."""
