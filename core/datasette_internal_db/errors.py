class InvalidInput(ValueError):
    """Bad input to a core service; routes turn it into a 400 JSON error."""
