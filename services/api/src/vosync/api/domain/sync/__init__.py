"""The sync domain of the api."""
