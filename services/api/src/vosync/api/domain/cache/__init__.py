"""The cache domain of the api."""
