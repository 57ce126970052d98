"""What users record, written back to the warehouse: outreach outcomes and chart annotations."""
