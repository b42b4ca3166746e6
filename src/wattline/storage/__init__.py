"""Storage: the store interface and its SQL backends."""
