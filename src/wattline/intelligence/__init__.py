"""Energy intelligence on numpy and scikit-learn: anomaly detection and forecasts.

Kept apart from ``analytics/`` (standard library only) because it needs numerical
libraries; it reads hourly figures, never raw storage rows.
"""
