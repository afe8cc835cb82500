"""Production entry point: ``gunicorn wsgi:app``. The only module-level app object."""

from app import create_app

app = create_app()
