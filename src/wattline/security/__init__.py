"""Who may do what: identities, roles, credentials and the audit trail.

Pure where it can be (roles, token formats, hash chains); storage and HTTP
live in `storage/` and `api/`, which call in here.
"""
