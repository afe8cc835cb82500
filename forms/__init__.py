"""Pure form handling: XLSForm to XForm (the only importer of pyxform), XForm introspection, and the
library of bundled surveys. Imports neither Flask nor SQLAlchemy: bytes and dataclasses in and out."""
