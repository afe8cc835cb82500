"""Response monitoring use cases: 5W activity reports (import, QA, fix, accept), plan figures, and the
reach and gap outputs (INDICATORS.md §9)."""
