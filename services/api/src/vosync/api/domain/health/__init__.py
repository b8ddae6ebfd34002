"""The health domain of the api."""
