"""Response monitoring (R4V's 5W) and plan figures: the columns of a 5W row, how workbook headers in
Spanish, Portuguese or English name them, and the QA rules, which are data (``rules.yaml``) checked against
reference lists (``reference.yaml``). Pure: rows in, findings out; storage and aggregation are services'."""
