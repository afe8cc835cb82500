"""The generator of the bundled XLSForms in forms/library/ and its vocabularies."""
