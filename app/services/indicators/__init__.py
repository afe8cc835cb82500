"""Indicators over submissions: mappings, canonical records, values and gaps."""
