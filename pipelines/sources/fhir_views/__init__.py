"""SQL-on-FHIR v2 ViewDefinitions (JSON) for the resources the FHIR reader imports."""
