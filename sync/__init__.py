"""Pure sync logic: OpenRosa wire formats, submission parsing, batch reading, dedup/edit/conflict
planning, submission decryption and the hub client. Imports neither Flask nor SQLAlchemy; may import
``forms``."""
