"""Shared monitoring indicators: the canonical record, its vocabularies and the indicator catalogue.

Pure code only (no Flask, no SQLAlchemy): the catalogue and code lists are YAML data files under
``catalog/`` loaded by :mod:`app.indicators.catalog`; :mod:`app.indicators.mapping` validates and
suggests per-form mappings; :mod:`app.indicators.normalise` turns one submission into a canonical
record and its roster persons; :mod:`app.indicators.reference` is the reference evaluation of an
indicator's declarative definition; :mod:`app.indicators.suppression` applies small-cell suppression
to output tables. The app layer stores and aggregates the results.
"""
