"""The proxy domain of the api."""
