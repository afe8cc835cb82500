"""Submissions: ingest (one instance, and batches), and the reviewer's reads of them."""
