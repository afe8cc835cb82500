"""Exports: the submission tables, their formats, previews, background runs, OData."""
