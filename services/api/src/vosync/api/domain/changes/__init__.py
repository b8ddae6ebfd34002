"""Change notes for the page: which gateway data of an instance the writer just committed."""
