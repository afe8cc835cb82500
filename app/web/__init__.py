"""HTTP: blueprints for the device protocol (openrosa), the JSON API (api) and the admin (admin).
Views authenticate, call services and render; ``unit_of_work`` commits for them. No business rules
live here."""
