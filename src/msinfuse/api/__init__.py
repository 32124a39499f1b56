"""REST API (FastAPI) under /api/v1 and FHIR R4 under /fhir."""
