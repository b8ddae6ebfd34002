"""The page domain of the api."""
