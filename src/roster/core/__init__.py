"""The domain: rules and services shared by every dialect. Imports no web framework."""
