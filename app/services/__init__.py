"""Use cases: ``verb_noun(session, *, actor, ...) -> result``. They flush, never commit, never import
Flask: the request (``app/web/unit_of_work.py``), CLI command or job that calls them commits."""
