"""Publishing forms: drafts and versions, the publish gate, what devices download."""
