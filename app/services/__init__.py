"""Use cases: ``verb_noun(session, *, actor, ...) -> result``. They flush, never commit, never import
Flask: the request or CLI command that calls them is the single commit point."""
