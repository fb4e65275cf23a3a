"""Figures about labels rather than export formats: agreement between labelers (pure: no database).

Like `exports`, this package imports neither `db` nor `labeler`; the services feed it plain rows.
"""
