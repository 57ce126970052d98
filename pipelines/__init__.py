"""CarePulse pipelines: extract, validate and load the EHR extracts into the warehouse."""
