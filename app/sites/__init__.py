"""The site registry's pure part: the shipped gazetteer of P-codes and the checks a site must pass.

No Flask, no database: rows of text in, dataclasses and a row-by-row report out. The service
(``app.services.sites``) stores the sites as entities of each project's ``sites`` list.
"""
