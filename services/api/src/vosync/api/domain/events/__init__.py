"""The events domain of the api."""
