"""The grid around the meters: what energy costs (tariffs of a tenant) and emits
(carbon intensity), and the weather, from providers or offline fallbacks."""
