"""Data protection: which rows and fields a reader sees, sensitivity classes, the disclosure risk
check, encryption keys, and deletion (trash, retention, subject requests)."""
