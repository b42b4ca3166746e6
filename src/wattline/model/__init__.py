"""Pure domain types. Imports nothing of Wattline and only the standard library."""
