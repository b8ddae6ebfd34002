"""The gateways domain of the api."""
