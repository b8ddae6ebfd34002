"""The instances domain of the api."""
