"""Review: decisions and comments on one submission, and on many at once."""
