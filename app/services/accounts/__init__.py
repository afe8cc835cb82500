"""Accounts: people and their roles, device credentials, passwords, logins."""
