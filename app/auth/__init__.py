"""Who is asking (credentials and actors) and what they may do (the access policy)."""
