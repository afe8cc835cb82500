"""HTTP: blueprints for the device protocol (openrosa), the JSON API (api) and the admin (admin).
Views authenticate, call services, commit once, and render; no business rules live here."""
