"""Live data served from memory."""
